using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Edge.Tests.Delivery;
using Klais.Kafka;
using Xunit.Abstractions;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>
/// Kafka outages across edge processes: the dev cluster lives in the test process and outlives every edge, which
/// is a separate klais-edge process stopped by SIGTERM or SIGKILL and started again on the same spill directory.
/// </summary>
public sealed class SpillProcessTests(ITestOutputHelper output) : IDisposable
{
    private const int Devices = 20;
    private readonly KafkaDevCluster _cluster = StartCluster();
    private readonly string _spill = Path.Combine(Path.GetTempPath(), "klais-spill-proc-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        _cluster.Dispose();
        if (Directory.Exists(_spill))
        {
            Directory.Delete(_spill, recursive: true);
        }
    }

    [Fact]
    public async Task Sigterm_during_an_outage_spills_and_the_restarted_edge_delivers_every_record_once_in_order()
    {
        const int PerDevice = 200, N = Devices * PerDevice;
        _cluster.CreateTopic("sigterm-outage", 3);
        Dictionary<string, string> env = Env("sigterm-outage", "interval:50");

        using (EdgeProcess first = EdgeProcess.Start(env))
        {
            Assert.True(await first.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !first.Process.HasExited, first.OutputText);
            _cluster.SetAllBrokersDown();
            Send(env, 0, PerDevice / 2);
            Assert.True(await first.WaitForStatsAsync(s => Received(s) == N / 2 && Circuit(s) == "open" && Delivery(s) == "spilling", TimeSpan.FromSeconds(60)),
                first.OutputText);
            Send(env, PerDevice / 2, PerDevice);
            Assert.True(await first.WaitForStatsAsync(s => Received(s) == N && Pending(s) == N, TimeSpan.FromSeconds(60)), first.OutputText);

            JsonElement health = await first.GetJsonAsync("/health");
            Assert.Equal(2, health.GetProperty("degradation").GetInt32());
            Assert.Equal("DEGRADED_KAFKA", health.GetProperty("degradation_name").GetString());

            await first.SignalAsync("TERM");
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        Assert.NotEmpty(Directory.GetFiles(_spill, "*.spill"));

        // Restarted while Kafka is still away: the backlog waits, then goes out once the brokers are back.
        using EdgeProcess second = EdgeProcess.Start(env);
        Assert.True(await second.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !second.Process.HasExited, second.OutputText);
        Assert.True(await second.WaitForStatsAsync(s => Pending(s) == N, TimeSpan.FromSeconds(30)));
        _cluster.SetAllBrokersUp();
        Assert.True(await second.WaitForStatsAsync(s => Pending(s) == 0 && Delivery(s) == "direct", TimeSpan.FromSeconds(120)), second.OutputText);
        await second.SignalAsync("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        OutageTests.AssertExactlyOnceInOrder(TopicReader.ReadToEnd(_cluster.BootstrapServers, "sigterm-outage", TimeSpan.FromSeconds(30)), Devices, PerDevice);
        Assert.Empty(Directory.GetFiles(_spill, "*.spill"));
    }

    /// <summary>
    /// SIGKILL once every datagram has been admitted into the spill: what is lost is what sat in the spill's write buffer
    /// (64 KiB) and had not been written yet. fsync does not matter for a killed process (the page cache survives it); it
    /// matters for a crash of the machine. The figures go to docs/delivery.md.
    /// </summary>
    [Theory]
    [InlineData("always")]
    [InlineData("interval:200")]
    [InlineData("never")]
    public async Task Sigkill_during_an_outage_loses_at_most_the_unwritten_spill_buffer(string fsync)
    {
        const int PerDevice = 500, N = Devices * PerDevice;
        string topic = "sigkill-" + fsync.Replace(':', '-');
        _cluster.CreateTopic(topic, 3);
        Dictionary<string, string> env = Env(topic, fsync);
        using (EdgeProcess first = EdgeProcess.Start(env))
        {
            Assert.True(await first.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !first.Process.HasExited, first.OutputText);
            _cluster.SetAllBrokersDown();
            Send(env, 0, 1);
            Assert.True(await first.WaitForStatsAsync(s => Circuit(s) == "open" && Delivery(s) == "spilling", TimeSpan.FromSeconds(60)), first.OutputText);
            Send(env, 1, PerDevice);
            Assert.True(await first.WaitForStatsAsync(s => Received(s) == N && Pending(s) == N, TimeSpan.FromSeconds(60)), first.OutputText);
            await first.SignalAsync("KILL");
            Assert.Equal(137, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        _cluster.SetAllBrokersUp();
        using EdgeProcess second = EdgeProcess.Start(env);
        Assert.True(await second.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !second.Process.HasExited, second.OutputText);
        Assert.True(await second.WaitForStatsAsync(s => Pending(s) == 0 && Delivery(s) == "direct", TimeSpan.FromSeconds(120)), second.OutputText);
        JsonElement spill = (await second.GetJsonAsync("/stats")).GetProperty("spill");
        await second.SignalAsync("TERM");
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, topic, TimeSpan.FromSeconds(30));
        int distinct = records.Select(r => (Encoding.UTF8.GetString(r.Key!), Convert.ToHexString(r.Header("seq")!))).Distinct().Count();
        int lost = N - distinct;
        int recordBytes = SpillRecordBytes("dev-000", $$"""{"d":0,"s":{{PerDevice - 1}}}""");
        output.WriteLine($"fsync={fsync}: admitted {N}, delivered after restart {records.Count} ({distinct} distinct), lost {lost}; "
            + $"truncated tails {spill.GetProperty("truncated_tails").GetInt64()}, corrupt {spill.GetProperty("corrupt_records").GetInt64()}; bound {64 * 1024 / recordBytes} records (64 KiB buffer / {recordBytes} B)");

        Assert.Equal(distinct, records.Count);   // no duplicates
        if (fsync == "always")
        {
            Assert.Equal(0, lost);
        }
        else
        {
            Assert.InRange(lost, 0, 64 * 1024 / recordBytes);
        }
    }

    private static KafkaDevCluster StartCluster()
    {
        Librdkafka.EnsureLoaded();
        return KafkaDevCluster.Start(brokers: 1);
    }

    private static int SpillRecordBytes(string device, string payload) => 8 + 13 + device.Length + payload.Length;

    private static long Received(JsonElement s) => s.GetProperty("dam").GetProperty("received").GetInt64();

    private static long Pending(JsonElement s) => s.GetProperty("spill").GetProperty("pending_records").GetInt64();

    private static string? Circuit(JsonElement s) => s.GetProperty("circuit").GetProperty("state").GetString();

    private static string? Delivery(JsonElement s) => s.GetProperty("spill").GetProperty("delivery").GetString();

    private Dictionary<string, string> Env(string topic, string fsync) => new()
    {
        ["KLAIS_UDP_BIND"] = $"127.0.0.1:{EdgeProcess.FreePort(SocketType.Dgram)}",
        ["KLAIS_API_BIND"] = $"127.0.0.1:{EdgeProcess.FreePort(SocketType.Stream)}",
        ["KLAIS_KAFKA_BOOTSTRAP"] = _cluster.BootstrapServers,
        ["KLAIS_CONTROL"] = "off", // Kafka is down here; the control plane is not what these tests are about
        ["KLAIS_KAFKA_TOPIC"] = topic,
        ["KLAIS_NODE_ID"] = "edge-proc",
        ["KLAIS_RECEIVE_THREADS"] = "1",
        ["KLAIS_DAM_MAX_RATE"] = "1000000",
        ["KLAIS_DAM_BURST_SIZE"] = "1000000",
        ["KLAIS_SPILL_DIR"] = _spill,
        ["KLAIS_SPILL_FSYNC"] = fsync,
        ["KLAIS_BREAKER_WINDOW_MS"] = "1000",
        ["KLAIS_BREAKER_BREAK_MS"] = "1000",
        ["KLAIS_BREAKER_STALL_MS"] = "500",
        ["KLAIS_LOG_LEVEL"] = "warn",
    };

    private static void Send(Dictionary<string, string> env, int from, int to)
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Connect(IPEndPoint.Parse(env["KLAIS_UDP_BIND"]));
        for (int s = from; s < to; s++)
        {
            for (int d = 0; d < Devices; d++)
            {
                sender.Send(NodeHarness.Datagram($"dev-{d:D3}", (uint)s, $$"""{"d":{{d}},"s":{{s}}}"""));
            }

            if (s % 20 == 19)
            {
                Thread.Sleep(1);
            }
        }
    }
}
