using System.Diagnostics;
using Klais.Testing;
using Klais.Xdp.Native;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests.Native;

/// <summary>
/// The program passes the verifier with CAP_BPF and CAP_NET_ADMIN alone (no CAP_PERFMON, no CAP_SYS_ADMIN):
/// loaded by bpftool under setpriv with every other capability dropped (docs/xdp.md).
/// <para>
/// Pinning needs a bpffs, and mounting one needs CAP_SYS_ADMIN, which the loader no longer has. So each load runs
/// in a private mount namespace (<c>unshare --mount</c>) where, still as full root, the host's <c>/sys/fs/bpf</c> is
/// unmounted if it was there and a fresh bpffs is mounted in a folder of the test's own; only then are the
/// capabilities dropped. The result cannot depend on whether the host has bpffs mounted, and the host's mounts are
/// never touched.
/// </para>
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

    /// <summary>
    /// The guard on the test above: with the host's bpffs gone from the namespace and none mounted in its place, the
    /// same least-privilege load cannot pin. Were the load to pass here, it would be reaching a bpffs the test did not
    /// mount, and the passing test would say nothing about a machine without one.
    /// </summary>
    [PrivilegedFact]
    public void Cannot_pin_without_a_bpffs_of_its_own()
    {
        (int exit, string error) = LoadWith("+bpf,+net_admin", mountBpffs: false);

        Assert.NotEqual(0, exit);
        Assert.Contains("mount", error, StringComparison.OrdinalIgnoreCase);
    }

    private static (int Exit, string Error) LoadWith(string capabilities, bool mountBpffs = true)
    {
        string tag = $"klxt-{Environment.ProcessId}-{Guid.NewGuid():N}";
        string dir = Path.Combine(Path.GetTempPath(), tag);
        string obj = Path.Combine(Path.GetTempPath(), tag + ".bpf.o");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(obj, BpfObjectImage.Embedded());
        try
        {
            // $1 = the folder to mount bpffs on, $2 = the object, $3 = "mount" or not, $4 = capabilities. The bounding
            // set limits what exec grants to exactly these; uid 0 keeps file access to the private bpffs.
            const string script = """
                set -e
                if mountpoint -q /sys/fs/bpf; then umount /sys/fs/bpf; fi
                if [ "$3" = mount ]; then mount -t bpf bpf "$1"; fi
                exec setpriv --bounding-set=-all,"$4" --inh-caps=-all,"$4" bpftool prog load "$2" "$1/prog"
                """;
            var start = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string argument in new[] { "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, obj, mountBpffs ? "mount" : "no", capabilities })
            {
                start.ArgumentList.Add(argument);
            }

            using Process process = ChildProcess.Run(start);
            string error = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        finally
        {
            // The private bpffs (and the pinned program with it) went away with the namespace.
            File.Delete(obj);
            Directory.Delete(dir, recursive: true);
        }
    }
}
