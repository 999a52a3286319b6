using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Kafka;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>klais-edge as a separate process: exit codes and SIGTERM, which only a real process can show.</summary>
public sealed class EdgeProcessTests
{
    [Fact]
    public async Task Bad_environment_exits_2_naming_every_bad_setting()
    {
        using EdgeProcess edge = EdgeProcess.Start(new Dictionary<string, string>
        {
            ["KLAIS_DAM_MAX_RATE"] = "0",
            ["KLAIS_DAM_BURST_SIZE"] = "-5",
            ["KLAIS_UDP_BIND"] = "nowhere",
            ["KLAIS_LOG_LEVEL"] = "loud",
        });

        int exitCode = await edge.WaitForExitAsync(TimeSpan.FromSeconds(60));
        string text = edge.OutputText;

        Assert.Equal(2, exitCode);
        Assert.Contains("4 configuration problem(s)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_DAM_MAX_RATE is \"0\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_DAM_BURST_SIZE is \"-5\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_UDP_BIND is \"nowhere\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_LOG_LEVEL is \"loud\" (from the environment)", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("warning")]
    [InlineData("information")]
    public async Task Starts_with_the_log_level_names_of_Microsoft_Extensions_Logging(string level)
    {
        int udp = EdgeProcess.FreePort(SocketType.Dgram), api = EdgeProcess.FreePort(SocketType.Stream);
        using EdgeProcess edge = EdgeProcess.Start(new Dictionary<string, string>
        {
            ["KLAIS_UDP_BIND"] = $"127.0.0.1:{udp}",
            ["KLAIS_API_BIND"] = $"127.0.0.1:{api}",
            ["KLAIS_LOG_LEVEL"] = level,
            ["KLAIS_CONTROL"] = "off",
        });

        Assert.True(await edge.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !edge.Process.HasExited, edge.OutputText);
        Assert.DoesNotContain("configuration problem", edge.OutputText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_drains_the_dam_flushes_kafka_and_exits_0()
    {
        const int Count = 3000;
        Librdkafka.EnsureLoaded();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        cluster.CreateTopic("sigterm", 2);
        int udp = EdgeProcess.FreePort(SocketType.Dgram), api = EdgeProcess.FreePort(SocketType.Stream);
        using EdgeProcess edge = EdgeProcess.Start(new Dictionary<string, string>
        {
            ["KLAIS_UDP_BIND"] = $"127.0.0.1:{udp}",
            ["KLAIS_API_BIND"] = $"127.0.0.1:{api}",
            ["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers,
            ["KLAIS_KAFKA_TOPIC"] = "sigterm",
            ["KLAIS_DAM_MAX_RATE"] = "50",      // far below the offered load: nearly everything waits in the queue
            ["KLAIS_DAM_BURST_SIZE"] = "10",
            ["KLAIS_RECEIVE_THREADS"] = "1",
            ["KLAIS_CONTROL"] = "off", // the drain and flush are what this test is about, not the control plane
        });

        Assert.True(await edge.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !edge.Process.HasExited, edge.OutputText);

        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            sender.Connect(IPAddress.Loopback, udp);
            byte[] buffer = new byte[64];
            for (int i = 0; i < Count; i++)
            {
                int length = Contracts.Wire.Datagram.Write(buffer, Encoding.UTF8.GetBytes($"dev-{i % 7}"), (uint)i, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"));
                sender.Send(buffer.AsSpan(0, length));
            }
        }

        Assert.True(await edge.WaitForStatsAsync(s => s.GetProperty("dam").GetProperty("received").GetInt64() == Count, TimeSpan.FromSeconds(30)));
        JsonElement held = (await edge.GetJsonAsync("/stats")).GetProperty("dam");
        Assert.True(held.GetProperty("queue_depth").GetInt64() > Count / 2, "most records should be held back by the Dam before SIGTERM");

        await edge.SignalAsync("TERM");

        Assert.Equal(0, await edge.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(cluster.BootstrapServers, "sigterm", TimeSpan.FromSeconds(20));
        Assert.Equal(Count, records.Count);
        Assert.Equal(Count, records.Select(r => Encoding.UTF8.GetString(r.Value!)).Distinct().Count());
    }
}
