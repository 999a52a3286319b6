using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Delivery;
using Klais.Edge.Hosting;
using Klais.Kafka;
using Polly.CircuitBreaker;

namespace Klais.Edge.Tests.Delivery;

/// <summary>Kafka outages against the dev cluster: nothing admitted is lost, nothing is delivered twice, each device's order holds.</summary>
public sealed class OutageTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;
    private readonly string _spill = Path.Combine(Path.GetTempPath(), "klais-outage-" + Guid.NewGuid().ToString("N"));

    public OutageTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose()
    {
        _cluster.Dispose();
        if (Directory.Exists(_spill))
        {
            Directory.Delete(_spill, recursive: true);
        }
    }

    /// <summary>In both record formats: the spill keeps the fields, not the Kafka record, and replays in the edge's format.</summary>
    [Theory]
    [InlineData("headers")]
    [InlineData("envelope")]
    public async Task Brokers_down_past_the_breaker_then_back_delivers_every_record_once_in_device_order(string format)
    {
        const int Devices = 20, PerDevice = 250, N = Devices * PerDevice;
        _cluster.CreateTopic("outage", 3);
        await using NodeHarness edge = NodeHarness.Start(NodeHarness.Config(_cluster.BootstrapServers, "outage", _spill, ("KLAIS_KAFKA_RECORD_FORMAT", format)));
        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Producer.Probe(TimeSpan.FromSeconds(5), out _), TimeSpan.FromSeconds(30)));

        _cluster.SetAllBrokersDown();
        SendRange(edge, Devices, 0, PerDevice / 2);   // these reach librdkafka and wait there
        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Dam.Received == N / 2, TimeSpan.FromSeconds(30)));
        Assert.Equal(DeliveryMode.Direct, edge.Node.Router.Mode);

        Assert.True(await edge.AdvanceUntilAsync(() => edge.Node.Circuit.State == CircuitState.Open, TimeSpan.FromSeconds(30)),
            $"circuit {edge.Node.Circuit.State}, samples {edge.Node.Circuit.Samples}, failing {edge.Node.Circuit.FailingSamples}");
        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Router.Mode == DeliveryMode.Spilling, TimeSpan.FromSeconds(30)));
        Assert.Equal(N / 2, edge.Node.Producer.Returned);   // taken back from librdkafka into the spill

        SendRange(edge, Devices, PerDevice / 2, PerDevice);  // these go straight to the spill
        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Dam.Received == N && edge.Node.Spill.PendingRecords == N, TimeSpan.FromSeconds(30)),
            $"received {edge.Node.Dam.Received}, pending {edge.Node.Spill.PendingRecords}");
        JsonElement health = Render(w => edge.Node.Stats.WriteHealth(w));
        Assert.Equal(EdgeDegradation.DegradedKafka, health.GetProperty("degradation").GetInt32());
        Assert.Equal("DEGRADED_KAFKA", health.GetProperty("degradation_name").GetString());
        Assert.Contains(health.GetProperty("degradation_reasons").EnumerateArray(), r => r.GetString()!.StartsWith("Kafka circuit open", StringComparison.Ordinal));
        Assert.Equal("open", health.GetProperty("kafka").GetProperty("circuit").GetString());
        Assert.Equal(N, health.GetProperty("spill").GetProperty("pending_records").GetInt64());
        Assert.Contains("klais_degradation_level{node=\"edge-test\"} 2\n", edge.Node.Prometheus.Write(), StringComparison.Ordinal);
        Assert.Contains("klais_circuit_state{node=\"edge-test\"} 1\n", edge.Node.Prometheus.Write(), StringComparison.Ordinal);
        Assert.Equal(0, edge.Node.Producer.Delivered);

        _cluster.SetAllBrokersUp();
        Assert.True(await edge.AdvanceUntilAsync(() => edge.Node.Circuit.State == CircuitState.Closed, TimeSpan.FromMinutes(2)));

        // From here Kafka works in real time: one fake 100 ms per real 100 ms, so the stall detector judges fairly.
        Assert.True(await edge.AdvanceUntilAsync(
            () => edge.Node.Producer.Delivered == N && edge.Node.Router.Mode == DeliveryMode.Direct && edge.Node.Spill.PendingRecords == 0,
            TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100)),
            $"delivered {edge.Node.Producer.Delivered}, mode {edge.Node.Router.Mode}, pending {edge.Node.Spill.PendingRecords}, replayed {edge.Node.Router.Replayed}, "
            + $"replay in flight {edge.Node.Router.ReplayInFlight}, in flight {edge.Node.Producer.InFlight}, rewinds {edge.Node.Router.Rewinds}, returned {edge.Node.Producer.Returned}, "
            + $"failed {edge.Node.Producer.Failed}, spilled {edge.Node.Router.Spilled}, segments {edge.Node.Spill.SegmentCount}, circuit {edge.Node.Circuit.State}, ticks {edge.Node.Circuit.Ticks}, samples {edge.Node.Circuit.Samples}, failing {edge.Node.Circuit.FailingSamples}, opens {edge.Node.Circuit.Opens}, probes {edge.Node.Circuit.Probes} {edge.Node.Circuit.LastProblem}");

        IReadOnlyList<TopicRecord> written = TopicReader.ReadToEnd(_cluster.BootstrapServers, "outage", TimeSpan.FromSeconds(30));
        Assert.All(written, r => Assert.Equal(format, r.Telemetry().Format.ToString().ToLowerInvariant()));
        var dups = written.GroupBy(r => (Encoding.UTF8.GetString(r.Key!), r.Telemetry().Sequence)).Where(g => g.Count() > 1).ToList();
        Assert.True(dups.Count == 0, $"{dups.Count} duplicated, e.g. {string.Join(", ", dups.Take(10).Select(g => g.Key + "@" + string.Join("/", g.Select(r => r.Partition + ":" + r.Offset))))}; "
            + $"possibly persisted {edge.Node.Producer.ReturnedPossiblyPersisted}, rewinds {edge.Node.Router.Rewinds}, replayed {edge.Node.Router.Replayed}, returned {edge.Node.Producer.Returned}");
        AssertExactlyOnceInOrder(written, Devices, PerDevice);
        Assert.Equal(EdgeDegradation.Normal, edge.Node.Degradation.Level);
        Assert.Equal(0, edge.Node.Router.Lost);
        Assert.Equal(0, edge.Node.Spill.SegmentCount);   // every segment deleted once acknowledged
    }

    [Fact]
    public async Task Ten_thousand_datagrams_sent_twice_reach_kafka_once_and_count_ten_thousand_duplicates()
    {
        const int Devices = 100, PerDevice = 100, N = Devices * PerDevice;
        _cluster.CreateTopic("twice", 3);
        await using NodeHarness edge = NodeHarness.Start(NodeHarness.Config(_cluster.BootstrapServers, "twice", _spill));

        for (int round = 0; round < 2; round++)
        {
            SendRange(edge, Devices, 0, PerDevice);
            Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Receiver.Datagrams == (round + 1) * N, TimeSpan.FromSeconds(30)));
        }

        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Producer.Delivered == N, TimeSpan.FromSeconds(30)));
        AssertExactlyOnceInOrder(TopicReader.ReadToEnd(_cluster.BootstrapServers, "twice", TimeSpan.FromSeconds(30)), Devices, PerDevice);
        JsonElement stats = Render(w => edge.Node.Stats.WriteStats(w));
        Assert.Equal(N, stats.GetProperty("rejected").GetProperty("duplicate").GetInt64());
        Assert.Equal(N, stats.GetProperty("kafka").GetProperty("delivered").GetInt64());
        Assert.Equal(Devices, stats.GetProperty("dedupe").GetProperty("devices").GetInt64());
        Assert.Equal(0, stats.GetProperty("dedupe").GetProperty("gaps").GetInt64());
        Assert.Equal(N, edge.Node.Dam.Received);
        Assert.Equal(0, edge.Node.Receiver.KernelDrops);
    }

    [Fact]
    public async Task Full_spill_refuses_the_newest_records_counts_them_and_reports_degraded_full()
    {
        const int Devices = 4, PerDevice = 600, N = Devices * PerDevice;
        _cluster.CreateTopic("full", 3);
        await using NodeHarness edge = NodeHarness.Start(NodeHarness.Config(_cluster.BootstrapServers, "full", _spill, ("KLAIS_SPILL_MAX_BYTES", "1048576")));
        string filler = new('x', 900);
        _cluster.SetAllBrokersDown();
        edge.Send(NodeHarness.Datagram("dev-000", 0, "{}"));
        Assert.True(await edge.AdvanceUntilAsync(() => edge.Node.Circuit.State == CircuitState.Open, TimeSpan.FromSeconds(30)));
        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Router.Mode == DeliveryMode.Spilling, TimeSpan.FromSeconds(30)));

        for (int s = 1; s <= PerDevice; s++)
        {
            for (int d = 0; d < Devices; d++)
            {
                edge.Send(NodeHarness.Datagram($"dev-{d:D3}", (uint)s, $$"""{"f":"{{filler}}"}"""));
            }

            Thread.Sleep(s % 10 == 0 ? 1 : 0);
        }

        Assert.True(await NodeHarness.WaitForAsync(() => edge.Node.Dam.Received == N + 1 && edge.Node.Dam.QueueDepth == 0, TimeSpan.FromSeconds(30)));
        long spilled = edge.Node.Spill.PendingRecords, lost = edge.Node.Router.Lost;
        Assert.Equal(N + 1, spilled + lost);
        Assert.True(lost > N / 3, $"lost {lost}");
        Assert.True(edge.Node.Spill.IsFull);
        EdgeDegradation full = edge.Node.Degradation;
        Assert.Equal(EdgeDegradation.DegradedFull, full.Level);
        Assert.Contains(full.Reasons, r => r.StartsWith("Spill full", StringComparison.Ordinal) && r.Contains($"{lost} lost so far", StringComparison.Ordinal));

        _cluster.SetAllBrokersUp();
        Assert.True(await edge.AdvanceUntilAsync(() => edge.Node.Circuit.State == CircuitState.Closed, TimeSpan.FromMinutes(2)));
        Assert.True(await edge.AdvanceUntilAsync(() => edge.Node.Producer.Delivered == spilled && edge.Node.Router.Mode == DeliveryMode.Direct,
            TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(100)));
        Assert.Equal(spilled, TopicReader.ReadToEnd(_cluster.BootstrapServers, "full", TimeSpan.FromSeconds(30)).Count);
    }

    [Fact]
    public async Task Devices_that_resend_buffered_history_after_an_edge_restart_produce_no_duplicates()
    {
        const int Devices = 10;
        _cluster.CreateTopic("history", 3);
        EdgeConfig config = NodeHarness.Config(_cluster.BootstrapServers, "history", _spill);
        await using (NodeHarness first = NodeHarness.Start(config))
        {
            SendRange(first, Devices, 0, 100);
            Assert.True(await NodeHarness.WaitForAsync(() => first.Node.Producer.Delivered == Devices * 100, TimeSpan.FromSeconds(30)));
        }   // SIGTERM's path: the dedupe windows are saved beside the spill

        Assert.True(File.Exists(Path.Combine(_spill, EdgeStateService.DedupeStateFile)));
        await using NodeHarness second = NodeHarness.Start(config);

        // Each device lost its link for a while and now sends its buffer: the last 50 the edge already had, then 50 new.
        SendRange(second, Devices, 50, 150);
        Assert.True(await NodeHarness.WaitForAsync(() => second.Node.Producer.Delivered == Devices * 50, TimeSpan.FromSeconds(30)));
        Assert.Equal(Devices * 50, second.Node.Pipeline.Rejections[Rejection.Duplicate]);
        AssertExactlyOnceInOrder(TopicReader.ReadToEnd(_cluster.BootstrapServers, "history", TimeSpan.FromSeconds(30)), Devices, 150);
    }

    internal static JsonElement Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        using JsonDocument doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    internal static void SendRange(NodeHarness edge, int devices, int from, int to)
    {
        for (int s = from; s < to; s++)
        {
            for (int d = 0; d < devices; d++)
            {
                edge.Send(NodeHarness.Datagram($"dev-{d:D3}", (uint)s, $$"""{"d":{{d}},"s":{{s}}}"""));
            }

            if (s % 20 == 19)
            {
                Thread.Sleep(1);   // keep the socket's receive queue from overflowing on 2 shared cores
            }
        }
    }

    /// <summary>Exactly <paramref name="perDevice"/> records per device, sequences 0.. in offset order, no duplicates.</summary>
    internal static void AssertExactlyOnceInOrder(IReadOnlyList<TopicRecord> records, int devices, int perDevice)
    {
        Assert.Equal(devices * perDevice, records.Count);
        foreach (IGrouping<string, TopicRecord> device in records.GroupBy(r => Encoding.UTF8.GetString(r.Key!)))
        {
            uint[] sequences = device.OrderBy(r => r.Offset).Select(r => r.Telemetry().Sequence).ToArray();
            Assert.Equal(Enumerable.Range(0, perDevice).Select(i => (uint)i), sequences);
        }

        Assert.Equal(devices, records.Select(r => Encoding.UTF8.GetString(r.Key!)).Distinct().Count());
    }
}
