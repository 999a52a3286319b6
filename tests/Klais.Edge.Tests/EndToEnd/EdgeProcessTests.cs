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
    private static Process Start(Dictionary<string, string> env, StringBuilder output)
    {
        var info = new ProcessStartInfo("dotnet", Path.Combine(AppContext.BaseDirectory, "klais-edge.dll"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("KLAIS_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        foreach ((string name, string value) in env)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static int FreePort(SocketType type)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Dgram ? ProtocolType.Udp : ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    [Fact]
    public async Task Bad_environment_exits_2_naming_every_bad_setting()
    {
        var output = new StringBuilder();
        using Process edge = Start(new Dictionary<string, string>
        {
            ["KLAIS_DAM_MAX_RATE"] = "0",
            ["KLAIS_DAM_BURST_SIZE"] = "-5",
            ["KLAIS_UDP_BIND"] = "nowhere",
            ["KLAIS_LOG_LEVEL"] = "loud",
        }, output);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await edge.WaitForExitAsync(timeout.Token);
        string text = output.ToString();

        Assert.Equal(2, edge.ExitCode);
        Assert.Contains("4 configuration problem(s)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_DAM_MAX_RATE is \"0\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_DAM_BURST_SIZE is \"-5\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_UDP_BIND is \"nowhere\" (from the environment)", text, StringComparison.Ordinal);
        Assert.Contains("KLAIS_LOG_LEVEL is \"loud\" (from the environment)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_drains_the_dam_flushes_kafka_and_exits_0()
    {
        const int Count = 3000;
        Librdkafka.EnsureLoaded();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        cluster.CreateTopic("sigterm", 2);
        int udp = FreePort(SocketType.Dgram), api = FreePort(SocketType.Stream);
        var output = new StringBuilder();
        using Process edge = Start(new Dictionary<string, string>
        {
            ["KLAIS_UDP_BIND"] = $"127.0.0.1:{udp}",
            ["KLAIS_API_BIND"] = $"127.0.0.1:{api}",
            ["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers,
            ["KLAIS_KAFKA_TOPIC"] = "sigterm",
            ["KLAIS_DAM_MAX_RATE"] = "50",      // far below the offered load: nearly everything waits in the queue
            ["KLAIS_DAM_BURST_SIZE"] = "10",
            ["KLAIS_RECEIVE_THREADS"] = "1",
        }, output);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{api}") };

        async Task<JsonElement> Stats()
        {
            using JsonDocument doc = JsonDocument.Parse(await http.GetStringAsync(new Uri("/stats", UriKind.Relative)));
            return doc.RootElement.Clone();
        }

        Assert.True(await EdgeHarness.WaitForAsync(() => { try { Stats().GetAwaiter().GetResult(); return true; } catch (HttpRequestException) { return false; } },
            TimeSpan.FromSeconds(60)), output.ToString());

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

        Assert.True(await EdgeHarness.WaitForAsync(() => Stats().GetAwaiter().GetResult().GetProperty("dam").GetProperty("received").GetInt64() == Count,
            TimeSpan.FromSeconds(30)));
        JsonElement held = (await Stats()).GetProperty("dam");
        Assert.True(held.GetProperty("queue_depth").GetInt64() > Count / 2, "most records should be held back by the Dam before SIGTERM");

        using (Process kill = Process.Start("kill", $"-TERM {edge.Id}"))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await edge.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, edge.ExitCode);
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(cluster.BootstrapServers, "sigterm", TimeSpan.FromSeconds(20));
        Assert.Equal(Count, records.Count);
        Assert.Equal(Count, records.Select(r => Encoding.UTF8.GetString(r.Value!)).Distinct().Count());
    }
}
