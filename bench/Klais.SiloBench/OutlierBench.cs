using System.Diagnostics;
using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Grains.Device;
using Klais.Grains.Index;
using Klais.Grains.Turns;
using Klais.Learning.Outliers;

namespace Klais.SiloBench;

/// <summary>
/// <c>outliers [devices]</c>: what the fleet outlier model costs per scored device, beside the device grain's own
/// decisions (the z-score among them) for one report, measured in the same run, single-threaded. One outlier shard
/// (<see cref="FleetOutliers"/>) observes <c>devices</c> vectors (after a warm-up that fitted its forest); the
/// forest's fit on a full ring is timed alone. Prints µs per operation and bytes allocated.
/// </summary>
internal static class OutlierBench
{
    public static void Run(int devices)
    {
        var random = new Random(1);
        float[][] vectors = new float[devices][];
        for (int i = 0; i < devices; i++)
        {
            double rate = Math.Exp((random.NextDouble() * 2) - 1);
            vectors[i] = new float[DeviceFeatures.Count];
            DeviceFeatures.Write(new DeviceProfile(rate, random.NextDouble() < 0.05 ? 3 : 1, 0.005 * random.NextDouble(), 0.001, 0.1, random.NextDouble() < 0.1 ? 2 : 1, rate), vectors[i]);
        }

        string[] ids = Enumerable.Range(0, devices).Select(i => "dev-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        // The refit interval is long: the rounds time scoring; the fit is timed on its own below.
        var shard = new FleetOutliers(TimeSpan.FromDays(1));
        for (int i = 0; i < Math.Max(devices, FleetOutliers.Capacity); i++)
        {
            shard.TryObserve(ids[i % devices], vectors[i % devices], now, out _);
        }

        var context = new Context(now);
        DeviceDecisions[] grains = ids.Select(DeviceDecisions.Create).ToArray();
        ulong sequence = 0;
        for (int round = 1; round <= 5; round++)
        {
            (double observeUs, double observeBytes) = Time(devices, i => shard.TryObserve(ids[i], vectors[i], now, out _));
            (double scoreUs, double scoreBytes) = Time(devices, i => shard.Forest!.Score(vectors[i]));
            (double applyUs, double applyBytes) = Time(devices, i => grains[i].Apply(new DeviceObservation
            {
                SourceId = "edge-1", Sequence = ++sequence, WindowMs = 1000, Packets = 10 + (ulong)(i % 5), Bytes = 1000, Gaps = 0, Duplicates = 0,
                DistinctSources = 1,
            }, context));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"outliers round={round} devices={devices} forest_score_us={scoreUs:F3} shard_observe_us={observeUs:F3} device_report_with_zscore_us={applyUs:F3} "
                + $"forest_score_bytes={scoreBytes:F0} shard_observe_bytes={observeBytes:F0} device_report_bytes={applyBytes:F0}"));
        }

        long start = Stopwatch.GetTimestamp();
        var fit = new FleetOutliers(TimeSpan.Zero);
        for (int i = 0; i < FleetOutliers.Capacity; i++)
        {
            fit.TryObserve(ids[i % devices], vectors[i % devices], now, out _); // refit at every vector once past MinDevices
        }

        int fits = FleetOutliers.Capacity - FleetOutliers.MinDevices + 1;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"outliers fit: {fits} fits on 200..4096 rows, {Stopwatch.GetElapsedTime(start).TotalMilliseconds / fits:F2} ms a fit on average (100 trees of 256 rows)"));
    }

    private static (double MicrosecondsPer, double BytesPer) Time(int count, Action<int> action)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            action(i);
        }

        return (Stopwatch.GetElapsedTime(start).TotalMicroseconds / count, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)count);
    }

    private sealed class Context(DateTimeOffset now) : IDecisionContext
    {
        public DateTimeOffset Now => now;

        public string SiloId => "bench";

        public ConsensusOptions Consensus { get; } = new();

        public ControllerOptions Controller { get; } = new();

        public void EmitControl(string target, string key, ControlUpdate update)
        {
        }

        public void Record(string kind, string grain, string detail)
        {
        }
    }
}
