using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Klais.Edge.Tests.EndToEnd;
using Klais.Kafka;

namespace Klais.Edge.Tests.Api;

/// <summary>Hostile clients against a running edge's API: they cannot lock operators or health checks out.</summary>
public sealed class ApiHardeningTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;

    public ApiHardeningTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task With_1000_idle_connections_and_100_half_sent_heads_open_health_still_answers_200_within_1_s()
    {
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "idle"));
        var endpoint = new IPEndPoint(IPAddress.Loopback, edge.Http.BaseAddress!.Port);
        var hostile = new List<Socket>();
        try
        {
            for (int i = 0; i < 1100; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endpoint);
                if (i >= 1000)
                {
                    await socket.SendAsync("GET /stats HTTP/1.1\r\nHost: edge\r\nX-Slow: "u8.ToArray()); // a slowloris: never finishes its head
                }

                hostile.Add(socket);
            }

            for (int round = 0; round < 5; round++)
            {
                var watch = Stopwatch.StartNew();
                using HttpResponseMessage health = await edge.Http.GetAsync(new Uri("/health", UriKind.Relative));
                watch.Stop();
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"/health took {watch.ElapsedMilliseconds} ms with 1,100 hostile connections open");
            }

            // Nobody was turned away or cut off for them: the limit (4,096) is far, and idle connections hold no buffer.
            Assert.All(hostile, s => Assert.True(s.Connected));
        }
        finally
        {
            hostile.ForEach(s => s.Dispose());
        }
    }
}
