using System.Diagnostics;
using Klais.Testing;

namespace Klais.Xdp.Tests.Support;

/// <summary>
/// A fact that needs root: BPF programs, XDP and network namespaces. Skipped (with the reason) where those are not
/// available; scripts/test.sh turns any skip into a failure when KLAIS_REQUIRE_PRIVILEGED=1 (CI).
/// </summary>
public sealed class PrivilegedFactAttribute : FactAttribute
{
    public PrivilegedFactAttribute()
    {
        if (Privileges.MissingReason is { } reason)
        {
            Skip = reason;
        }
    }
}

internal static class Privileges
{
    private static readonly Lazy<string?> Reason = new(Probe);

    /// <summary>Why privileged tests cannot run here, or null when they can.</summary>
    public static string? MissingReason => Reason.Value;

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "XDP tests need Linux.";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "XDP tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN for network namespaces).";
        }

        // A namespace made and removed: proves `ip` is there and namespaces are allowed (containers may refuse).
        string name = $"klxt-probe-{Environment.ProcessId}";
        try
        {
            Ip.Run("netns", "add", name);
            Ip.Run("netns", "del", name);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "Cannot create a network namespace: " + e.Message;
        }
    }
}

/// <summary>Runs iproute2's <c>ip</c>.</summary>
internal static class Ip
{
    public static string Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = ChildProcess.Run(start);
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({process.ExitCode}): {error.Trim()}");
    }

    /// <summary>Like <see cref="Run"/> but ignores failure (cleanup).</summary>
    public static void TryRun(params string[] arguments)
    {
        try
        {
            Run(arguments);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}
