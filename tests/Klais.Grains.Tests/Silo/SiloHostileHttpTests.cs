using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.Grains.Tests.Silo;

/// <summary>
/// Hostile HTTP against the silo's API (Kestrel) in raw bytes: malformed request lines, header floods, a smuggling
/// attempt, and a thousand idle connections with slow heads, none of which may lock out <c>/health</c>.
/// </summary>
public sealed class SiloHostileHttpTests : IAsyncLifetime
{
    private KafkaDevCluster _cluster = null!;
    private KlaisSilo _silo = null!;
    private IPEndPoint _api = null!;

    public async Task InitializeAsync()
    {
        _cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(_cluster, reportPartitions: 1);
        _silo = await InProcessSilo.StartAsync(_cluster);
        var url = new Uri(_silo.ApiUrl);
        _api = new IPEndPoint(IPAddress.Parse(url.Host), url.Port);
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        _cluster.Dispose();
    }

    public static TheoryData<string, string> Requests() => new()
    {
        { "GARBAGE\r\n\r\n", "HTTP/1.1 400" },
        { "GET /health HTTP/9.9\r\nHost: h\r\n\r\n", "HTTP/1.1 505" },
        { "GET /health HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, 200).Select(i => $"X-Flood-{i}: {i}\r\n")) + "Host: h\r\n\r\n", "HTTP/1.1 431" },
        { "GET /health HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('a', 40_000) + "\r\n\r\n", "HTTP/1.1 431" },
        { "GET /health HTTP/1.1\r\nHost: h\r\n folded: header\r\n\r\n", "HTTP/1.1 400" },
        { "POST /api/devices/d/block HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n", "HTTP/1.1 400" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task A_malformed_or_oversized_request_gets_a_4xx_or_5xx_status_and_health_answers_after(string request, string status)
    {
        using Socket socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        Assert.StartsWith(status, await ReadAsync(socket), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", await HealthAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_with_both_framings_is_refused_and_the_request_hidden_in_its_body_is_never_served()
    {
        // A front proxy reading Content-Length would pass one request; one reading chunked would find a second in it.
        const string Hidden = "DELETE /api/devices/victim/block HTTP/1.1\r\nHost: h\r\n\r\n";
        string smuggle = "POST /api/devices/attacker/block HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
            + $"Content-Length: {5 + Hidden.Length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Hidden;
        using Socket socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(smuggle));
        string reply = await ReadAsync(socket);

        Assert.StartsWith("HTTP/1.1 400", reply, StringComparison.Ordinal);
        Assert.Equal(1, ApiCalls.CountOf(reply, "HTTP/1.1 "));
    }

    [Fact]
    public async Task With_1000_idle_connections_and_100_slow_heads_open_health_still_answers_200_within_1_s()
    {
        var hostile = new List<Socket>();
        try
        {
            for (int i = 0; i < 1100; i++)
            {
                Socket socket = await ConnectAsync();
                if (i >= 1000)
                {
                    await socket.SendAsync("GET /api/swarm HTTP/1.1\r\nHost: h\r\nX-Slow: "u8.ToArray());
                }

                hostile.Add(socket);
            }

            for (int round = 0; round < 5; round++)
            {
                var watch = Stopwatch.StartNew();
                string health = await HealthAsync();
                watch.Stop();
                Assert.StartsWith("HTTP/1.1 200", health, StringComparison.Ordinal);
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"/health took {watch.ElapsedMilliseconds} ms with 1,100 hostile connections open");
            }
        }
        finally
        {
            hostile.ForEach(s => s.Dispose());
        }
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_api);
        return socket;
    }

    private async Task<string> HealthAsync()
    {
        using Socket socket = await ConnectAsync();
        await socket.SendAsync("GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"u8.ToArray());
        return await ReadAsync(socket);
    }

    /// <summary>Everything the server sends until it closes the connection (bounded at 10 s).</summary>
    private static async Task<string> ReadAsync(Socket socket)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            // What arrived before the deadline or a reset is the answer.
        }

        return text.ToString();
    }
}
