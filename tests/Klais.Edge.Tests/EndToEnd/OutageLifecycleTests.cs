using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Edge.Dam;
using Klais.Edge.Spill;
using Klais.Kafka;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>
/// Starting and stopping klais-edge processes while every broker is down, with the control plane on (klais.control
/// followed, node reports published): SIGTERM ends the process within <see cref="ExitLimit"/>, and every datagram
/// sent is in Kafka or the spill, or counted as dropped by the kernel. Each run has its own mock cluster, topic and
/// spill directory; runs go in parallel lanes. <c>KLAIS_STOP_RUNS</c> sets the runs per case (2 by default;
/// docs/BENCHMARKS.md has the 50-run figures and the command), <c>KLAIS_STOP_LANES</c> the lanes (2).
/// </summary>
[Trait("Category", "Process")]
public sealed class OutageLifecycleTests(ITestOutputHelper output)
{
    /// <summary>Kubernetes kills a pod 30 s after SIGTERM by default; the edge must be well inside that.</summary>
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(10);

    private const int Devices = 50;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sigterm_during_a_broker_outage_exits_within_10_s_with_every_admitted_record_in_kafka_or_the_spill(bool startedDuringOutage)
    {
        int runs = Setting("KLAIS_STOP_RUNS", 2), lanes = Math.Min(runs, Setting("KLAIS_STOP_LANES", 2));
        var results = new List<RunResult>();
        await Task.WhenAll(Enumerable.Range(0, lanes).Select(lane => Task.Run(async () =>
        {
            for (int run = lane; run < runs; run += lanes)
            {
                RunResult result = await RunAsync(startedDuringOutage, perDevice: 100, receiveBufferBytes: null);
                lock (results)
                {
                    results.Add(result);
                }

                output.WriteLine(result.ToString());
            }
        })));

        List<double> exits = [.. results.Select(r => r.Exit.TotalSeconds).Order()];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(startedDuringOutage ? "started during" : "started before")} the outage, {runs} runs in {lanes} lanes: SIGTERM to exit median {exits[exits.Count / 2]:0.00} s, max {exits[^1]:0.00} s; records sent {results.Sum(r => r.Sent)}, in Kafka or the spill {results.Sum(r => r.Kept)}, kernel drops {results.Sum(r => r.KernelDrops)}"));
        foreach (RunResult r in results)
        {
            Assert.True(r.ExitCode == 0, $"exit code {r.ExitCode}\n{r.Log}");
            Assert.True(r.Exit <= ExitLimit, $"SIGTERM to exit took {r.Exit.TotalSeconds:0.00} s\n{r.Log}");
            Assert.True(r.Kept + r.KernelDrops == r.Sent, $"sent {r.Sent}, kept {r.Kept}, kernel drops {r.KernelDrops}\n{r.Log}");
            Assert.Equal(r.Admitted, r.Kept);
        }
    }

    /// <summary>
    /// An edge started while every broker is down waits for klais.control's replay (up to its start timeout) before
    /// it receives: not ready meanwhile, live at once. Datagrams sent from the moment it is live wait in the socket's
    /// buffer; a buffer too small for them overflows, and the kernel's drops are counted, so every datagram is either
    /// admitted (Kafka or spill) or counted.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData(65536)]
    public async Task Datagrams_sent_while_an_edge_starts_during_an_outage_are_admitted_or_counted_as_kernel_drops(int? receiveBufferBytes)
    {
        RunResult r = await RunAsync(startedDuringOutage: true, perDevice: 100, receiveBufferBytes);
        output.WriteLine(r.ToString());

        Assert.True(r.WasUnreadyWhileLive, "/health/ready answered 200 before the edge received\n" + r.Log);
        Assert.Equal(r.Sent, r.Kept + r.KernelDrops);
        Assert.Equal(r.Admitted, r.Kept);
        if (receiveBufferBytes is not null)
        {
            Assert.True(r.KernelDrops > 0, "a 64 KiB buffer held all 5,000 datagrams?\n" + r.Log);
        }
    }

    [Fact]
    public async Task Sigterm_while_start_up_waits_for_klais_control_exits_0_within_10_s_without_receiving()
    {
        Librdkafka.EnsureLoaded();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        cluster.SetAllBrokersDown();
        Dictionary<string, string> env = Env(cluster);
        env["KLAIS_CONTROL_START_TIMEOUT_MS"] = "60000";
        using EdgeProcess edge = EdgeProcess.Start(env);
        Assert.True(await Eventually.TrueAsync(async () => edge.Process.HasExited || await edge.StatusAsync("/health/live") == 200, TimeSpan.FromSeconds(60)), edge.OutputText);
        Assert.Equal(503, await edge.StatusAsync("/health/ready"));

        var exit = Stopwatch.StartNew();
        await edge.SignalAsync("TERM");
        int exitCode = await edge.WaitForExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SIGTERM during start-up: exit {exitCode} after {exit.Elapsed.TotalSeconds:0.00} s"));

        Assert.Equal(0, exitCode);
        Assert.True(exit.Elapsed <= ExitLimit, $"{exit.Elapsed.TotalSeconds:0.00} s\n{edge.OutputText}");
        Assert.DoesNotContain("receiving on udp://", edge.OutputText, StringComparison.Ordinal);
    }

    private static async Task<RunResult> RunAsync(bool startedDuringOutage, int perDevice, int? receiveBufferBytes)
    {
        Librdkafka.EnsureLoaded();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        const string Topic = "outage-lifecycle";
        cluster.CreateTopic(Topic, 3);
        cluster.CreateTopic(ControlPlaneTopics.Control, 2);
        cluster.CreateTopic(ControlPlaneTopics.Reports, 2);
        string spill = Path.Combine(Path.GetTempPath(), "klais-outage-life-" + Guid.NewGuid().ToString("N"));
        Dictionary<string, string> env = Env(cluster);
        env["KLAIS_KAFKA_TOPIC"] = Topic;
        env["KLAIS_DAM_MAX_RATE"] = "1000000";
        env["KLAIS_DAM_BURST_SIZE"] = "1000000";
        env["KLAIS_SPILL_DIR"] = spill;
        if (receiveBufferBytes is { } bytes)
        {
            env["KLAIS_RECEIVE_BUFFER_BYTES"] = bytes.ToString(CultureInfo.InvariantCulture);
        }

        try
        {
            int sent = Devices * perDevice;
            var kept = new HashSet<string>(StringComparer.Ordinal);
            bool unreadyWhileLive = false;
            JsonElement stats;
            Stopwatch exit;
            int exitCode;
            string log;
            if (startedDuringOutage)
            {
                cluster.SetAllBrokersDown();
            }

            using (EdgeProcess edge = EdgeProcess.Start(env))
            {
                Assert.True(await Eventually.TrueAsync(async () => edge.Process.HasExited || await edge.StatusAsync("/health/live") == 200, TimeSpan.FromSeconds(60)), edge.OutputText);
                Assert.False(edge.Process.HasExited, edge.OutputText);
                if (startedDuringOutage)
                {
                    unreadyWhileLive = await edge.StatusAsync("/health/ready") == 503;
                }
                else
                {
                    // Half before the outage, acknowledged and read back while Kafka is up; the brokers never come
                    // back in this run.
                    Assert.True(await Eventually.TrueAsync(async () => await edge.StatusAsync("/health/ready") == 200, TimeSpan.FromSeconds(60)), edge.OutputText);
                    Send(env["KLAIS_UDP_BIND"], 0, perDevice / 2);
                    Assert.True(await edge.WaitForStatsAsync(s => Delivered(s) == sent / 2, TimeSpan.FromSeconds(60)), edge.OutputText);
                    ReadKafka(cluster, Topic, kept);
                    cluster.SetAllBrokersDown();
                }

                Send(env["KLAIS_UDP_BIND"], startedDuringOutage ? 0 : perDevice / 2, perDevice);
                Assert.True(await Eventually.TrueAsync(async () => await edge.StatusAsync("/health/ready") == 200, TimeSpan.FromSeconds(60)), edge.OutputText);
                Assert.True(await edge.WaitForStatsAsync(s => Received(s) + KernelDrops(s) == sent, TimeSpan.FromSeconds(60)), edge.OutputText);
                stats = await edge.GetJsonAsync("/stats");

                exit = Stopwatch.StartNew();
                await edge.SignalAsync("TERM");
                exitCode = await edge.WaitForExitAsync(TimeSpan.FromSeconds(60));
                exit.Stop();
                log = edge.OutputText;
            }

            int inKafka = kept.Count;
            using (var log2 = new SpillLog(new SpillOptions { Directory = spill }, TimeProvider.System, NullLogger<SpillLog>.Instance))
            using (var reader = new SpillReader(log2))
            {
                while (reader.TryRead(out Admitted record, out _, out _))
                {
                    kept.Add(Encoding.UTF8.GetString(record.Payload));
                }
            }

            JsonElement dam = stats.GetProperty("dam");
            return new RunResult(startedDuringOutage, sent, Received(stats) - dam.GetProperty("dropped").GetInt64(), kept.Count, inKafka,
                KernelDrops(stats), exit.Elapsed, exitCode, unreadyWhileLive, log);
        }
        finally
        {
            if (Directory.Exists(spill))
            {
                Directory.Delete(spill, recursive: true);
            }
        }
    }

    /// <summary>An edge on free ports with the control plane on (the default), reporting every half second.</summary>
    private static Dictionary<string, string> Env(KafkaDevCluster cluster) => new()
    {
        ["KLAIS_UDP_BIND"] = $"127.0.0.1:{EdgeProcess.FreePort(SocketType.Dgram)}",
        ["KLAIS_API_BIND"] = $"127.0.0.1:{EdgeProcess.FreePort(SocketType.Stream)}",
        ["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers,
        ["KLAIS_NODE_ID"] = "edge-outage",
        ["KLAIS_RECEIVE_THREADS"] = "1",
        ["KLAIS_REPORT_INTERVAL_MS"] = "500",
        ["KLAIS_LOG_LEVEL"] = "information",
    };

    private static void ReadKafka(KafkaDevCluster cluster, string topic, HashSet<string> payloads)
    {
        foreach (TopicRecord record in TopicReader.ReadToEnd(cluster.BootstrapServers, topic, TimeSpan.FromSeconds(30)))
        {
            payloads.Add(Encoding.UTF8.GetString(record.Value!));
        }
    }

    private static void Send(string udpBind, int from, int to)
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Connect(IPEndPoint.Parse(udpBind));
        for (int s = from; s < to; s++)
        {
            for (int d = 0; d < Devices; d++)
            {
                sender.Send(Delivery.NodeHarness.Datagram($"dev-{d:D3}", (uint)s, $$"""{"d":{{d}},"s":{{s}}}"""));
            }
        }
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    private static long Received(JsonElement s) => s.GetProperty("dam").GetProperty("received").GetInt64();

    private static long Delivered(JsonElement s) => s.GetProperty("kafka").GetProperty("delivered").GetInt64();

    private static long KernelDrops(JsonElement s) => s.GetProperty("receive").GetProperty("kernel_drops").GetInt64();

    private sealed record RunResult(bool StartedDuringOutage, long Sent, long Admitted, long Kept, long InKafka, long KernelDrops, TimeSpan Exit,
        int ExitCode, bool WasUnreadyWhileLive, string Log)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{(StartedDuringOutage ? "during" : "before")}: exit {ExitCode} {Exit.TotalSeconds:0.00} s after SIGTERM; sent {Sent}, admitted {Admitted}, in Kafka {InKafka}, in Kafka or the spill {Kept}, kernel drops {KernelDrops}; unready while live {WasUnreadyWhileLive}");
    }
}
