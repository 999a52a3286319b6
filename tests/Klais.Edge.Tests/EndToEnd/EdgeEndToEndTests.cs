using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Tests.EndToEnd;

public sealed class EdgeEndToEndTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;

    public EdgeEndToEndTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose() => _cluster.Dispose();

    private static byte[] Datagram(string device, uint sequence, string payload)
    {
        byte[] buffer = new byte[Contracts.Wire.Datagram.HeaderLength + Encoding.UTF8.GetByteCount(payload)];
        Contracts.Wire.Datagram.Write(buffer, Encoding.UTF8.GetBytes(device), sequence, Encoding.UTF8.GetBytes(payload));
        return buffer;
    }

    [Theory]
    [InlineData("headers")]
    [InlineData("envelope")]
    public async Task Valid_datagrams_reach_kafka_exactly_once_and_invalid_ones_are_counted_by_reason(string format)
    {
        const int Devices = 10, PerDevice = 100, Valid = Devices * PerDevice, BadEach = 25;
        _cluster.CreateTopic("e2e", 3);
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "e2e",
            ("KLAIS_DAM_MAX_RATE", "1000000"), ("KLAIS_DAM_BURST_SIZE", "1000000"), ("KLAIS_MAX_PAYLOAD_BYTES", "256"),
            ("KLAIS_KAFKA_RECORD_FORMAT", format)));

        for (int s = 0; s < PerDevice; s++)
        {
            for (int d = 0; d < Devices; d++)
            {
                edge.Send(Datagram($"dev-{d:D3}", (uint)(1000 + s), $$"""{"d":{{d}},"s":{{s}}}"""));
            }

            if (s % 4 == 0)
            {
                byte[] good = Datagram("dev-bad", 1, "{}");
                edge.Send(good.AsSpan(0, 10));                                                     // too_short
                byte[] magic = (byte[])good.Clone(); magic[0] = 0x55;
                edge.Send(magic);                                                                  // bad_magic
                byte[] id = (byte[])good.Clone(); id[Contracts.Wire.Datagram.DeviceIdOffset + 12] = (byte)'x';
                edge.Send(id);                                                                     // bad_device_id
                edge.Send(Datagram("dev-bad", 1, "{\"unterminated\":"));                           // invalid_json
                edge.Send(Datagram("dev-bad", 1, "\"" + new string('x', 400) + "\""));             // payload_too_large
            }
        }

        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Producer.Delivered >= Valid, TimeSpan.FromSeconds(30)),
            $"delivered {edge.Node.Producer.Delivered} of {Valid}");
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, "e2e", TimeSpan.FromSeconds(20));

        Assert.Equal(Valid, records.Count);
        var seen = new HashSet<(string, uint)>();
        foreach (IGrouping<string, TopicRecord> device in records.GroupBy(r => Encoding.UTF8.GetString(r.Key!)))
        {
            int d = int.Parse(device.Key["dev-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            var ordered = device.OrderBy(r => r.Offset).ToList();
            Assert.Single(ordered.Select(r => r.Partition).Distinct());
            for (int s = 0; s < ordered.Count; s++)
            {
                TopicRecord r = ordered[s];
                TelemetryFields fields = r.Telemetry();
                Assert.Equal(format, fields.Format.ToString().ToLowerInvariant());
                Assert.Equal(format == "headers" ? 3 : 0, r.Headers.Count);
                uint sequence = fields.Sequence;
                Assert.Equal((uint)(1000 + s), sequence);                                           // per-device order kept
                Assert.Equal($$"""{"d":{{d}},"s":{{s}}}""", Encoding.UTF8.GetString(fields.Payload));
                Assert.Equal("edge-test", fields.Edge);
                long ts = fields.ReceivedUnixNanos;
                Assert.InRange(ts, before - 1_000_000_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 + 1_000_000_000);
                Assert.Equal(ts / 1_000_000, r.TimestampUnixMs);
                Assert.True(seen.Add((device.Key, sequence)), "duplicate record");
            }
        }

        Assert.Equal(Devices, seen.Select(x => x.Item1).Distinct().Count());

        JsonElement stats = await edge.GetJsonAsync("/stats");
        JsonElement rejected = stats.GetProperty("rejected");
        Assert.Equal(BadEach, rejected.GetProperty("too_short").GetInt64());
        Assert.Equal(BadEach, rejected.GetProperty("bad_magic").GetInt64());
        Assert.Equal(BadEach, rejected.GetProperty("bad_device_id").GetInt64());
        Assert.Equal(BadEach, rejected.GetProperty("invalid_json").GetInt64());
        Assert.Equal(BadEach, rejected.GetProperty("payload_too_large").GetInt64());
        Assert.Equal(0, rejected.GetProperty("duplicate").GetInt64());
        Assert.Equal(0, rejected.GetProperty("rate_limited").GetInt64());
        Assert.Equal(Valid + 5 * BadEach, stats.GetProperty("receive").GetProperty("datagrams").GetInt64());
        Assert.Equal(Valid, stats.GetProperty("dam").GetProperty("received").GetInt64());
        Assert.Equal(Valid, stats.GetProperty("dam").GetProperty("passed").GetInt64());
        Assert.Equal(Valid, stats.GetProperty("kafka").GetProperty("delivered").GetInt64());
        Assert.Equal(0, stats.GetProperty("kafka").GetProperty("failed").GetInt64());
        Assert.Equal(Valid, stats.GetProperty("latency").GetProperty("receive_to_enqueue_count").GetInt64());
    }

    [Fact]
    public async Task Bad_config_body_gets_400_and_changes_nothing_while_a_good_one_changes_the_dam()
    {
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "cfg"));

        using HttpResponseMessage bad = await edge.Http.PostAsync(new Uri("/config", UriKind.Relative),
            new StringContent("""{"new_rate":-3,"burst_size":100}""", Encoding.UTF8, "application/json"));
        string badBody = await bad.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("new_rate is -3. It must be a number greater than 0", badBody, StringComparison.Ordinal);
        Assert.Equal(10000, edge.Node.Dam.CurrentRate);
        Assert.Equal(50000, edge.Node.Dam.CurrentBurst);

        using HttpResponseMessage good = await edge.Http.PostAsync(new Uri("/config", UriKind.Relative),
            new StringContent("""{"new_rate":20000,"burst_size":70000}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(20000, edge.Node.Dam.CurrentRate);
        Assert.Equal(70000, edge.Node.Dam.CurrentBurst);
        JsonElement health = await edge.GetJsonAsync("/health");
        Assert.Equal(20000, health.GetProperty("rate_limit").GetDouble());
    }

    [Fact]
    public async Task Ready_answers_200_while_the_edge_receives_and_503_from_the_stop_on_while_live_stays_200()
    {
        var gate = new StopGate();
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "ready"),
            services: s => s.AddHostedService(_ => gate));
        using (HttpResponseMessage ready = await edge.Http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        Assert.True((await edge.GetJsonAsync("/health")).GetProperty("ready").GetBoolean());

        // SIGTERM's stop: every step of the edge's runs, then the gate holds the host before the API's own stop.
        Task stop = edge.StopAsync();
        await gate.Reached.WaitAsync(TimeSpan.FromSeconds(30));

        using HttpResponseMessage stopping = await edge.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using JsonDocument body = JsonDocument.Parse(await stopping.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stopping.StatusCode);
        Assert.Equal("stopping", body.RootElement.GetProperty("status").GetString());
        Assert.Equal("live", (await edge.GetJsonAsync("/health/live")).GetProperty("status").GetString());
        Assert.False((await edge.GetJsonAsync("/health")).GetProperty("ready").GetBoolean());
        gate.Release();
        await stop;
    }

    [Fact]
    public async Task Health_and_metrics_describe_the_running_edge()
    {
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "hm"));
        edge.Send(Datagram("dev-1", 1, "{}").AsSpan(0, 5));
        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Pipeline.Rejections[Rejection.TooShort] == 1, TimeSpan.FromSeconds(10)));

        JsonElement health = await edge.GetJsonAsync("/health");
        string metrics = await edge.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(0, health.GetProperty("degradation").GetInt32());
        Assert.Equal("NORMAL", health.GetProperty("degradation_name").GetString());
        Assert.False(health.GetProperty("kafka").GetProperty("embedded").GetBoolean());
        Assert.False(health.GetProperty("xdp").GetProperty("attached").GetBoolean());
        Assert.Equal("edge-test", health.GetProperty("node_id").GetString());
        Assert.Contains("klais_rejected_total{node=\"edge-test\",reason=\"too_short\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE klais_dam_passed_total counter\n", metrics, StringComparison.Ordinal);
        Assert.Contains("klais_dam_rate{node=\"edge-test\"} 10000\n", metrics, StringComparison.Ordinal);
    }

    /// <summary>
    /// Registered after the edge's services, so its <see cref="StoppedAsync"/> comes after every stop step of the
    /// edge's and before the API's (which stops after it): it holds the stop there until the test releases it.
    /// </summary>
    private sealed class StopGate : IHostedLifecycleService
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Release() => _release.TrySetResult();

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken)
        {
            _reached.TrySetResult();
            return _release.Task;
        }
    }
}
