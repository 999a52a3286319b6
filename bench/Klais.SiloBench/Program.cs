using System.Diagnostics;
using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Kafka;
using Klais.Silo.Configuration;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.SiloBench;

/// <summary>
/// <c>klais-silobench throughput [reports] [devices] [batch] [wait_ms] [batch_devices]</c>, <c>memory [grains]</c>, <c>redis-writes [devices] [seconds]</c>,
/// <c>operator-block [blocks] [klais-edge]</c>, <c>inference [steps] [edges]</c> (<see cref="InferenceBench"/>: no silo, the swarm controller alone),
/// <c>outliers [devices]</c> (<see cref="OutlierBench"/>: the outlier shard and the device decisions alone).
/// One in-process klais-silo on a redis-server of its own and the Kafka dev cluster. Each prints its result lines;
/// docs/BENCHMARKS.md keeps them with the command.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "";
        long Arg(int i, long fallback) => args.Length > i ? long.Parse(args[i], CultureInfo.InvariantCulture) : fallback;
        switch (mode)
        {
            case "throughput":
                var defaults = new IngestionOptions();
                await Throughput((int)Arg(1, 1_000_000), (int)Arg(2, 10_000), defaults with
                {
                    MaxBatch = (int)Arg(3, defaults.MaxBatch),
                    MaxWait = TimeSpan.FromMilliseconds(Arg(4, (long)defaults.MaxWait.TotalMilliseconds)),
                    MaxBatchDevices = (int)Arg(5, defaults.MaxBatchDevices),
                });
                return 0;
            case "memory":
                await Memory((int)Arg(1, 1_000_000));
                return 0;
            case "redis-writes":
                await RedisWrites((int)Arg(1, 100_000), (int)Arg(2, 10));
                return 0;
            case "operator-block":
                return await OperatorBlock.RunAsync((int)Arg(1, 100), args.Length > 2 ? args[2] : "out/bin/klais-edge");
            case "inference":
                InferenceBench.Run((int)Arg(1, 20_000), (int)Arg(2, 10));
                return 0;
            case "outliers":
                OutlierBench.Run((int)Arg(1, 100_000));
                return 0;
            default:
                Console.Error.WriteLine("usage: klais-silobench throughput [reports] [devices] [batch] [wait_ms] [batch_devices] | memory [grains] | redis-writes [devices] [seconds] | operator-block [blocks] [klais-edge] | inference [steps] [edges] | outliers [devices]");
                return 2;
        }
    }

    internal static SiloConfig Config(string bootstrap, RedisServer redis) => new()
    {
        SiloId = "bench",
        Redis = redis.Configuration,
        KafkaBootstrap = bootstrap,
        ApiBind = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
        SiloPort = 0,
        GatewayPort = 0,
        LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
    };

    /// <summary>Reports written first (as two edges would), then one silo started: reports ingested per second, durable and committed.</summary>
    private static async Task Throughput(int reports, int devices, IngestionOptions ingestion)
    {
        using var redis = new RedisServer();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, 12);
        var produce = Stopwatch.StartNew();
        using (var edge1 = new ReportPublisher(cluster.BootstrapServers, "edge-1"))
        using (var edge2 = new ReportPublisher(cluster.BootstrapServers, "edge-2"))
        {
            for (int i = 0; i < reports; i++)
            {
                var report = new DeviceReport { DeviceId = "dev-" + (i % devices).ToString(CultureInfo.InvariantCulture), WindowMs = 1000, Packets = 50, Bytes = 3200, SourceAddresses = { "192.0.2.1" } };
                (i % 2 == 0 ? edge1 : edge2).PublishDevice(report);
            }

            edge1.Flush(TimeSpan.FromMinutes(5));
            edge2.Flush(TimeSpan.FromMinutes(5));
        }

        Console.WriteLine($"produced {reports} reports for {devices} devices in {produce.Elapsed.TotalSeconds:0.0} s");
        long writesBefore = EvalCalls(redis);
        SiloConfig config = Config(cluster.BootstrapServers, redis);
        await using KlaisSilo silo = await KlaisSilo.StartAsync(config with { Ingestion = ingestion });
        IngestionStatus status = silo.Services.GetRequiredService<IngestionStatus>();
        var run = Stopwatch.StartNew();
        TimeSpan? first = null;
        while (status.AppliedReports < reports || status.UncommittedBatches > 0)
        {
            if (first is null && status.ConsumedRecords > 0)
            {
                first = run.Elapsed;
            }

            if (run.Elapsed > TimeSpan.FromMinutes(10))
            {
                Console.WriteLine($"gave up after 10 min: applied {status.AppliedReports} of {reports}");
                return;
            }

            await Task.Delay(20);
        }

        TimeSpan elapsed = run.Elapsed - (first ?? TimeSpan.Zero);
        long writes = EvalCalls(redis) - writesBefore;
        Console.WriteLine($"throughput: {reports} reports ({devices} devices; batches of up to {ingestion.MaxBatch} records, {ingestion.MaxBatchDevices} devices "
            + $"or {ingestion.MaxWait.TotalMilliseconds} ms) ingested, state durable and offsets committed in {elapsed.TotalSeconds:0.00} s "
            + $"(from the first record consumed): {reports / elapsed.TotalSeconds:0} reports/s; {status.BatchesHandled} batches, "
            + $"{writes} Redis script calls ({writes / elapsed.TotalSeconds:0}/s)");
    }

    /// <summary>
    /// <paramref name="grains"/> device grains activated with one report each: managed heap and RSS per activation
    /// (state in Redis, so what the silo holds is the activation and its state object).
    /// </summary>
    private static async Task Memory(int grains)
    {
        using var redis = new RedisServer();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, 12);
        await using KlaisSilo silo = await KlaisSilo.StartAsync(Config(cluster.BootstrapServers, redis) with { IdleEviction = TimeSpan.FromHours(1) });
        IGrainFactory factory = silo.Services.GetRequiredService<IGrainFactory>();
        (long heap0, long rss0) = Measure();
        var run = Stopwatch.StartNew();
        const int Parallel = 2000;
        for (int start = 0; start < grains; start += Parallel)
        {
            var calls = new List<Task>(Parallel);
            for (int i = start; i < Math.Min(grains, start + Parallel); i++)
            {
                calls.Add(factory.GetGrain<IDeviceGrain>("mem-" + i.ToString(CultureInfo.InvariantCulture)).Apply([new DeviceObservation
                {
                    SourceId = "edge-1", Sequence = 1, WindowMs = 1000, Packets = 10, Bytes = 600, SourceAddresses = ["192.0.2.1"],
                }]));
            }

            await Task.WhenAll(calls);
        }

        (long heap1, long rss1) = Measure();
        Console.WriteLine($"memory: {grains} device grains activated in {run.Elapsed.TotalSeconds:0.0} s; managed heap +{(heap1 - heap0) / (double)grains:0} B "
            + $"and RSS +{(rss1 - rss0) / (double)grains:0} B per active grain (heap {heap1 / 1e6:0} MB, RSS {rss1 / 1e6:0} MB)");
    }

    /// <summary>
    /// <paramref name="devices"/> active devices, each reported once a second by one edge for <paramref name="seconds"/> s:
    /// Redis script calls (one per grain write) per second, and what the silo kept up with.
    /// </summary>
    private static async Task RedisWrites(int devices, int seconds)
    {
        using var redis = new RedisServer();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, 12);
        await using KlaisSilo silo = await KlaisSilo.StartAsync(Config(cluster.BootstrapServers, redis));
        IngestionStatus status = silo.Services.GetRequiredService<IngestionStatus>();
        using var edge = new ReportPublisher(cluster.BootstrapServers, "edge-1");
        long writesBefore = EvalCalls(redis);
        var run = Stopwatch.StartNew();
        for (int second = 0; second < seconds; second++)
        {
            for (int i = 0; i < devices; i++)
            {
                edge.PublishDevice(new DeviceReport { DeviceId = "act-" + i.ToString(CultureInfo.InvariantCulture), WindowMs = 1000, Packets = 5, Bytes = 300 });
            }

            TimeSpan wait = TimeSpan.FromSeconds(second + 1) - run.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
        }

        edge.Flush(TimeSpan.FromMinutes(1));
        long sent = (long)devices * seconds;
        while (status.AppliedReports < sent && run.Elapsed < TimeSpan.FromSeconds(seconds * 10))
        {
            await Task.Delay(50);
        }

        TimeSpan elapsed = run.Elapsed;
        long writes = EvalCalls(redis) - writesBefore;
        Console.WriteLine($"redis-writes: {devices} devices reported every second for {seconds} s ({sent} reports): applied {status.AppliedReports} in "
            + $"{elapsed.TotalSeconds:0.0} s; {writes} Redis script calls = {writes / elapsed.TotalSeconds:0}/s "
            + $"({writes / (double)Math.Max(1, status.AppliedReports):0.00} per report)");
    }

    /// <summary>Lua script calls Redis has run (EVAL and EVALSHA): Orleans' Redis storage writes each grain state with one.</summary>
    private static long EvalCalls(RedisServer redis)
    {
        long total = 0;
        foreach (string command in new[] { "eval", "evalsha" })
        {
            string line = redis.CommandLine($"INFO commandstats", "cmdstat_" + command + ":");
            int start = line.IndexOf("calls=", StringComparison.Ordinal);
            if (start >= 0)
            {
                total += long.Parse(line[(start + 6)..line.IndexOf(',', start)], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    private static (long Heap, long Rss) Measure()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using Process self = Process.GetCurrentProcess();
        self.Refresh();
        return (GC.GetTotalMemory(forceFullCollection: false), self.WorkingSet64);
    }
}
