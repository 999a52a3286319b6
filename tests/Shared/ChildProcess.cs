using System.Collections.Concurrent;
using System.Diagnostics;

namespace Klais.Testing;

/// <summary>
/// Starts a test's long-running children (edges, silos, redis-server) so that they end with the test host, also when
/// the host is killed or crashes and no Dispose runs: each is started through util-linux's
/// <c>setpriv --pdeathsig KILL</c>, so the kernel sends it SIGKILL when its parent ends. The kernel's parent is the
/// thread that forked, not the process, and .NET forks on the thread that calls <see cref="Process.Start()"/>, often a
/// pool thread that ends long before the child should; so every child is forked by one thread that lives as long as
/// the host. An orphaned edge would otherwise hold its ports and keep running into the next test run.
/// </summary>
internal static class ChildProcess
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> Requests = new();

    /// <summary>
    /// Held across every process start of the test host. In a test assembly that runs Kafka dev clusters it is
    /// <c>KafkaDevCluster.ChildProcessGate</c> (set by <c>Shared/Kafka/ChildProcessGate.cs</c>): a broker going down
    /// while a child is between fork and exec aborts the host. Start processes only through this class.
    /// </summary>
    public static Lock Gate { get; set; } = new();

    static ChildProcess() => new Thread(Serve) { IsBackground = true, Name = "test-child-forker" }.Start();

    /// <summary>Start information for <paramref name="fileName"/> with <paramref name="arguments"/>, under setpriv; output redirected.</summary>
    public static ProcessStartInfo Info(string fileName, params IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["--pdeathsig", "KILL", "--", fileName, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    /// <summary>Starts <paramref name="info"/> (from <see cref="Info"/>) on the forking thread; returns once it runs.</summary>
    public static Process Start(ProcessStartInfo info)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((info, started));
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Starts a short command (<c>kill</c>, <c>ip</c>, a build) on the calling thread, under <see cref="Gate"/>.</summary>
    public static Process Run(ProcessStartInfo info)
    {
        lock (Gate)
        {
            return Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start");
        }
    }

    private static void Serve()
    {
        foreach ((ProcessStartInfo info, TaskCompletionSource<Process> started) in Requests.GetConsumingEnumerable())
        {
            try
            {
                started.SetResult(Run(info));
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        }
    }
}
