using System.Globalization;
using System.Text.Json;
using Klais.Edge.Api;
using Klais.Edge.Tests.Delivery;
using Klais.Kafka;

namespace Klais.Edge.Tests.Api;

/// <summary><c>/stats</c> and <c>/metrics</c> are both written from the metrics table (<see cref="EdgeMetrics"/>).</summary>
public sealed class EdgeMetricsTests : IAsyncLifetime
{
    /// <summary>The <c>/metrics</c> names dashboards and alerts read from before the table; none may go away.</summary>
    private static readonly string[] PublishedNames =
    [
        "klais_receive_datagrams_total", "klais_receive_bytes_total", "klais_receive_kernel_drops_total", "klais_dam_received_total",
        "klais_dam_passed_total", "klais_dam_queued_total", "klais_dam_dropped_total", "klais_dam_queue_depth", "klais_dam_queue_bytes",
        "klais_dam_queue_max_messages", "klais_dam_queue_max_bytes", "klais_dam_tokens", "klais_dam_rate", "klais_dam_burst",
        "klais_rejected_total", "klais_kafka_delivered_total", "klais_kafka_failed_total", "klais_kafka_in_flight", "klais_kafka_returned_total",
        "klais_kafka_returned_possibly_persisted_total", "klais_kafka_linger_ms", "klais_degradation_level", "klais_circuit_state",
        "klais_circuit_opens_total", "klais_delivery_mode", "klais_spill_pending_records", "klais_spill_bytes", "klais_spill_max_bytes",
        "klais_spill_spilled_total", "klais_spill_replayed_total", "klais_spill_lost_total", "klais_spill_corrupt_records_total",
        "klais_spill_truncated_tails_total", "klais_spill_write_errors_total", "klais_dedupe_devices", "klais_dedupe_gaps_total",
        "klais_dedupe_evicted_active_total", "klais_xdp_attached", "klais_xdp_packets_total", "klais_receive_to_enqueue_seconds",
    ];

    private readonly string _spill = Path.Combine(Path.GetTempPath(), "klais-metrics-" + Guid.NewGuid().ToString("N"));
    private KafkaDevCluster _cluster = null!;
    private NodeHarness _edge = null!;

    public async Task InitializeAsync()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
        _cluster.CreateTopic("metrics", 1);
        _edge = NodeHarness.Start(NodeHarness.Config(_cluster.BootstrapServers, "metrics", _spill));
        for (uint seq = 0; seq < 3; seq++)
        {
            _edge.Send(NodeHarness.Datagram("sensor-1", seq, "{}"));
        }

        _edge.Send(NodeHarness.Datagram("sensor-1", 1, "{}")); // a duplicate: rejected.duplicate 1
        Assert.True(await NodeHarness.WaitForAsync(() => _edge.Node.Producer.Delivered == 3 && _edge.Node.Receiver.Datagrams == 4, TimeSpan.FromSeconds(30)));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _cluster.Dispose();
        if (Directory.Exists(_spill))
        {
            Directory.Delete(_spill, recursive: true);
        }
    }

    [Fact]
    public void A_counter_added_to_the_table_shows_in_both_stats_and_metrics()
    {
        EdgeMetric[] table =
        [
            .. _edge.Node.Metrics.All,
            new("klais_receive_widgets_total", MetricType.Counter, "widgets", "receive.widgets", "Widgets received.", () => 42),
            new("klais_gadget_level", MetricType.Gauge, "level", "gadgets.level", "A section /stats did not have.", () => 2.5),
        ];

        JsonElement stats = OutageTests.Render(w => _edge.Node.Stats.WriteStats(w, table));
        Assert.Equal(42, stats.GetProperty("receive").GetProperty("widgets").GetInt64());
        Assert.Equal(4, stats.GetProperty("receive").GetProperty("datagrams").GetInt64()); // the section keeps what it had
        Assert.Equal(2.5, stats.GetProperty("gadgets").GetProperty("level").GetDouble());

        string metrics = _edge.Node.Prometheus.Write(table);
        Assert.Contains("# HELP klais_receive_widgets_total Widgets received.\n# TYPE klais_receive_widgets_total counter\nklais_receive_widgets_total{node=\"edge-test\"} 42\n", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE klais_gadget_level gauge\nklais_gadget_level{node=\"edge-test\"} 2.5\n", metrics, StringComparison.Ordinal);

        // Without them in the table, neither output has them.
        Assert.False(OutageTests.Render(w => _edge.Node.Stats.WriteStats(w)).GetProperty("receive").TryGetProperty("widgets", out _));
        Assert.DoesNotContain("klais_receive_widgets_total", _edge.Node.Prometheus.Write(), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_entry_of_the_table_is_in_stats_at_its_path_and_in_metrics_with_the_same_value()
    {
        JsonElement stats = OutageTests.Render(w => _edge.Node.Stats.WriteStats(w));
        Dictionary<string, double> samples = Samples(_edge.Node.Prometheus.Write());
        foreach (EdgeMetric metric in _edge.Node.Metrics.All)
        {
            string series = metric.Label is { } label ? $"{metric.Name}{{node=\"edge-test\",{label.Name}=\"{label.Value}\"}}" : $"{metric.Name}{{node=\"edge-test\"}}";
            Assert.True(samples.TryGetValue(series, out double sample), $"{series} is not in /metrics");
            JsonElement section = metric.StatsSection.Length == 0 ? stats : stats.GetProperty(metric.StatsSection);
            Assert.True(section.TryGetProperty(metric.StatsField, out JsonElement field), $"{metric.StatsPath} is not in /stats");
            if (metric.Type != MetricType.Counter)
            {
                continue; // gauges such as the bucket's tokens and the uptime move between the two reads
            }

            Assert.Equal(JsonValueKind.Number, field.ValueKind);
            Assert.True(field.GetDouble() == sample, $"{metric.StatsPath} is {field.GetDouble()} in /stats, {series} {sample} in /metrics");
        }

        Assert.Equal(3, samples["klais_kafka_delivered_total{node=\"edge-test\"}"]);
        Assert.Equal(1, samples["klais_rejected_total{node=\"edge-test\",reason=\"duplicate\"}"]);
        Assert.Equal(1, stats.GetProperty("rejected").GetProperty("duplicate").GetInt64());
        Assert.Equal("closed", stats.GetProperty("circuit").GetProperty("state").GetString());
        Assert.Equal(0, samples["klais_circuit_state{node=\"edge-test\"}"]);
        Assert.Equal("direct", stats.GetProperty("spill").GetProperty("delivery").GetString());
        Assert.False(stats.GetProperty("xdp").GetProperty("attached").GetBoolean());
        Assert.Equal(0, samples["klais_xdp_attached{node=\"edge-test\"}"]);
    }

    [Fact]
    public void Metrics_published_before_the_table_keep_their_names_and_types()
    {
        string metrics = _edge.Node.Prometheus.Write();
        foreach (string name in PublishedNames)
        {
            string type = name.EndsWith("_total", StringComparison.Ordinal) ? "counter" : name.EndsWith("_seconds", StringComparison.Ordinal) ? "summary" : "gauge";
            Assert.Contains($"# TYPE {name} {type}\n", metrics, StringComparison.Ordinal);
        }

        Assert.Equal(metrics.Split('\n').Count(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)), metrics.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Distinct().Count());
    }

    private static Dictionary<string, double> Samples(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith('#'))
            .ToDictionary(l => l[..l.LastIndexOf(' ')], l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
