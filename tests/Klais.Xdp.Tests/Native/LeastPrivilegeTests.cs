using System.Diagnostics;
using Klais.Xdp.Native;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests.Native;

/// <summary>
/// The program passes the verifier with CAP_BPF and CAP_NET_ADMIN alone (no CAP_PERFMON, no CAP_SYS_ADMIN):
/// loaded by bpftool under setpriv with every other capability dropped (docs/xdp.md).
/// </summary>
public sealed class LeastPrivilegeTests
{
    [PrivilegedFact]
    public void Loads_with_cap_bpf_and_cap_net_admin_only()
    {
        (int exit, string error) = LoadWith("+bpf,+net_admin");

        Assert.True(exit == 0, error);
    }

    [PrivilegedFact]
    public void Is_refused_without_cap_net_admin()
    {
        (int exit, string error) = LoadWith("+bpf");

        Assert.NotEqual(0, exit);
        Assert.Contains("Operation not permitted", error, StringComparison.Ordinal);
    }

    private static (int Exit, string Error) LoadWith(string capabilities)
    {
        string tag = $"klxt-{Environment.ProcessId}-{Guid.NewGuid():N}";
        string obj = Path.Combine(Path.GetTempPath(), tag + ".bpf.o");
        string pin = "/sys/fs/bpf/" + tag;
        File.WriteAllBytes(obj, BpfObjectImage.Embedded());
        try
        {
            // uid 0 keeps file access to bpffs; the bounding set limits what exec grants to exactly these.
            var start = new ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string argument in new[] { $"--bounding-set=-all,{capabilities}", $"--inh-caps=-all,{capabilities}", "bpftool", "prog", "load", obj, pin })
            {
                start.ArgumentList.Add(argument);
            }

            using Process process = Process.Start(start)!;
            string error = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        finally
        {
            File.Delete(obj);
            File.Delete(pin);
        }
    }
}
