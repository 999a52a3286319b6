using System.Diagnostics;
using System.Globalization;
using Klais.Testing;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>The tests' children end with the test host (<see cref="ChildProcess"/>), and only then.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public async Task A_child_is_killed_when_its_parent_process_is_killed()
    {
        // A parent that starts a child the way ChildProcess does, prints its PID, and waits; then the parent gets kill -9.
        using Process parent = ChildProcess.Run(new ProcessStartInfo("bash", ["-c", "setpriv --pdeathsig KILL -- sleep 300 & echo $!; wait"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        });
        int child = int.Parse(parent.StandardOutput.ReadLine()!, CultureInfo.InvariantCulture);
        WaitUntilSleeping(child);   // setpriv has set the signal once it runs sleep
        Assert.True(IsRunning(child));

        parent.Kill();
        parent.WaitForExit();

        Assert.True(await Eventually.TrueAsync(() => !IsRunning(child), TimeSpan.FromSeconds(10)), $"child {child} outlived its parent");
    }

    [Fact]
    public void A_child_outlives_the_thread_that_asked_for_it()
    {
        // .NET forks on the calling thread, and the kernel signals the child when that thread ends: a child started
        // directly from a thread that then ends is killed at once; one started through ChildProcess is not.
        // Each thread ends only once its child runs sleep: setpriv has set the signal by then (a thread that ended
        // before would have left the child to another thread of this process first, with no signal set yet).
        Process? direct = null, forked = null;
        RunOnThreadThatEnds(() => direct = UntilSleeping(ChildProcess.Run(ChildProcess.Info("sleep", "300"))));
        RunOnThreadThatEnds(() => forked = UntilSleeping(ChildProcess.Start(ChildProcess.Info("sleep", "300"))));
        try
        {
            Assert.True(direct!.WaitForExit(TimeSpan.FromSeconds(10)), "the directly started child was not killed");
            Assert.Equal(128 + 9, direct.ExitCode);
            Assert.False(forked!.WaitForExit(TimeSpan.FromSeconds(1)), "the child of the forking thread was killed");
        }
        finally
        {
            forked?.Kill();
            forked?.WaitForExit();
            direct?.Dispose();
            forked?.Dispose();
        }
    }

    private static void RunOnThreadThatEnds(Action action)
    {
        var thread = new Thread(() => action());
        thread.Start();
        thread.Join();
    }

    private static Process UntilSleeping(Process process)
    {
        WaitUntilSleeping(process.Id);
        return process;
    }

    private static void WaitUntilSleeping(int pid)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ReadComm(pid) != "sleep")
        {
            Assert.True(DateTime.UtcNow < deadline, $"process {pid} did not start sleep");
            Thread.Sleep(5);
        }
    }

    private static string? ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Alive and not a zombie (an exited child not yet reaped still has a /proc entry).</summary>
    private static bool IsRunning(int pid)
    {
        string status = $"/proc/{pid}/status";
        return File.Exists(status) && !File.ReadLines(status).Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains('Z'));
    }
}
