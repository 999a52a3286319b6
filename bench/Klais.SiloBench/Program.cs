using System.Diagnostics;
using System.Globalization;
using System.Net;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Grains.Device;
using Klais.Grains.Runtime;
using Klais.Kafka;

namespace Klais.SiloBench;

/// <summary>
/// <c>klais-silobench throughput [reports] [devices] [checkpoint_ms]</c>, <c>memory [grains]</c>, <c>failover SILO_DLL [session_ms]</c>.
/// Each prints one result line; docs/BENCHMARKS.md keeps them with the command.
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
                Throughput((int)Arg(1, 1_000_000), (int)Arg(2, 100_000), (int)Arg(3, 500));
                return 0;
            case "memory":
                Memory((int)Arg(1, 1_000_000));
                return 0;
            case "failover" when args.Length > 1:
                return await Failover(args[1], (int)Arg(2, 6000));
            default:
                Console.Error.WriteLine("usage: klais-silobench throughput [reports] [devices] [checkpoint_ms] | memory [grains] | failover SILO_DLL [session_ms]");
                return 2;
        }
    }

    /// <summary>Reports written first (as edges would), then one silo started: reports handled per second, from first to last.</summary>
    private static void Throughput(int reports, int devices, int checkpointMs)
    {
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
        using var silo = new SiloRuntime(new SiloRuntimeOptions { SiloId = "bench", BootstrapServers = cluster.BootstrapServers, SessionTimeout = TimeSpan.FromSeconds(6), CheckpointInterval = TimeSpan.FromMilliseconds(checkpointMs) });
        silo.Start();
        Stopwatch? clock = null;
        long cpuStart = 0;
        while (silo.Counters.ProcessedRecords < reports)
        {
            if (clock is null && silo.Counters.ProcessedRecords > 0)
            {
                clock = Stopwatch.StartNew();
                cpuStart = (long)Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
            }

            Thread.Sleep(clock is null ? 5 : 50);
        }

        double seconds = clock!.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds - cpuStart) / 1000;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"throughput: {reports} device reports ({devices} device grains, 12 partitions) handled by one silo (checkpoint {checkpointMs} ms) in {seconds:0.00} s = {reports / seconds:0} reports/s; process CPU {cpu:0.0} s (silo + in-process mock broker); state records written {silo.Counters.StateRecordsWritten}, commits {silo.Counters.OffsetCommits}"));
    }

    /// <summary>Managed heap per device grain: active (in memory, after one report) and passive (its changelog record as bytes).</summary>
    private static void Memory(int grains)
    {
        var context = new BenchContext();
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        var active = new Dictionary<string, DeviceGrain>(grains, StringComparer.Ordinal);
        for (int i = 0; i < grains; i++)
        {
            string id = "dev-" + i.ToString("0000000", CultureInfo.InvariantCulture);
            DeviceGrain grain = DeviceGrain.Create(id);
            grain.Handle(new ReportEnvelope
            {
                SourceId = "edge-1",
                Sequence = 1,
                Device = new DeviceReport { DeviceId = id, WindowMs = 1000, Packets = 50, Bytes = 3200, SourceAddresses = { "192.0.2.1" } },
            }, context);
            active.Add("device/" + id, grain);
        }

        long activeBytes = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        var passive = new Dictionary<string, byte[]>(grains, StringComparer.Ordinal);
        foreach ((string key, DeviceGrain grain) in active)
        {
            var record = new GrainStateRecord { SchemaVersion = Schema.Current, Epoch = 1, SiloId = "bench", SourceOffset = 1 };
            grain.WriteState(record);
            passive.Add(key, record.ToByteArray());
        }

        active.Clear();
        active.TrimExcess();
        long passiveBytes = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        GC.KeepAlive(active);
        GC.KeepAlive(passive);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: {grains} device grains: active {activeBytes / (double)grains:0} bytes/grain ({activeBytes / 1048576.0:0} MiB), passive {passiveBytes / (double)grains:0} bytes/grain ({passiveBytes / 1048576.0:0} MiB) (managed heap, keys included)"));
    }

    /// <summary>Two klais-silo processes; kill -9 of the one serving a device: seconds until every device answers from the survivor.</summary>
    private static async Task<int> Failover(string siloDll, int sessionMs)
    {
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, 12);
        var silos = new List<(Process Process, string Url)>();
        foreach (string id in new[] { "a", "b" })
        {
            var info = new ProcessStartInfo("dotnet", siloDll) { RedirectStandardOutput = true, UseShellExecute = false };
            info.Environment["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers;
            info.Environment["KLAIS_SILO_ID"] = id;
            info.Environment["KLAIS_SILO_API_BIND"] = "127.0.0.1:0";
            info.Environment["KLAIS_SILO_SESSION_TIMEOUT_MS"] = sessionMs.ToString(CultureInfo.InvariantCulture);
            info.Environment["KLAIS_SILO_HEARTBEAT_MS"] = Math.Min(1500, sessionMs / 4).ToString(CultureInfo.InvariantCulture);
            info.Environment["KLAIS_LOG_LEVEL"] = "warn";
            var process = Process.Start(info)!;
            string url = "";
            while (url.Length == 0 && await process.StandardOutput.ReadLineAsync() is { } line)
            {
                url = line.StartsWith("listening=", StringComparison.Ordinal) ? line["listening=".Length..] : "";
            }

            silos.Add((process, url));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var devices = Enumerable.Range(0, 200).Select(i => "dev-" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        using (var edge = new ReportPublisher(cluster.BootstrapServers, "edge-1"))
        {
            devices.ForEach(d => edge.PublishDevice(new DeviceReport { DeviceId = d, WindowMs = 1000, Packets = 1 }));
            edge.Flush(TimeSpan.FromSeconds(10));
        }

        bool AllServed(string url) => devices.All(d =>
        {
            try
            {
                return http.GetAsync($"{url}/api/devices/{d}").GetAwaiter().GetResult().StatusCode == HttpStatusCode.OK;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        });

        var ready = Stopwatch.StartNew();
        while (!AllServed(silos[0].Url) && ready.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }

        silos[1].Process.Kill();
        var clock = Stopwatch.StartNew();
        while (!AllServed(silos[0].Url) && clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(100);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"failover: session.timeout.ms {sessionMs}: kill -9 of one of two silos -> all 200 devices served by the survivor after {clock.Elapsed.TotalSeconds:0.0} s"));
        silos[0].Process.Kill();
        return 0;
    }

    private sealed class BenchContext : IGrainContext
    {
        public DateTimeOffset Now => DateTimeOffset.UtcNow;

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
