using System.Diagnostics;
using System.Net.Http.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Devices;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains.Tests.Cluster;
using Klais.Testing;

namespace Klais.Edge.Tests.Control;

/// <summary>An operator's block through klais-silo's grain API (a separate process) reaching two in-process edges.</summary>
[Collection(ControlPlaneFixture.Collection)]
public sealed class OperatorBlockTests(ControlPlaneFixture plane) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task Each_of_100_operator_blocks_reaches_every_edge_and_stops_the_devices_traffic()
    {
        // The only silo is the process: it owns every partition of klais.reports once its group join completes.
        using var silo = new SiloProcess("s-api", new Dictionary<string, string>
        {
            ["KLAIS_KAFKA_BOOTSTRAP"] = plane.Bootstrap,
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0",
            ["KLAIS_SILO_PORT"] = "0",
            ["KLAIS_SILO_GATEWAY_PORT"] = "0",
            ["KLAIS_SILO_SESSION_TIMEOUT_MS"] = "3000",
            ["KLAIS_SILO_HEARTBEAT_MS"] = "500",
            ["KLAIS_LOG_LEVEL"] = "warn",
        });
        await silo.WaitListening(TimeSpan.FromSeconds(30));
        await using EdgeHarness a = await plane.StartEdgeAsync("edge-op-a");
        await using EdgeHarness b = await plane.StartEdgeAsync("edge-op-b");
        using var api = new HttpClient { BaseAddress = new Uri(silo.Url), Timeout = TimeSpan.FromSeconds(10) };

        // Traffic of the device before the block reaches Kafka.
        long deliveredBefore = a.Node.Producer.Delivered;
        ControlPlaneFixture.Flood(a, "op-target", 10);
        Assert.True(await Eventually.TrueAsync(() => a.Node.Producer.Delivered == deliveredBefore + 10, TimeSpan.FromSeconds(10)));

        // The API answers once the device grain has taken the block and klais.control acknowledged it; the first
        // call activates the grain and the control producer, so it is retried until accepted.
        Assert.True(await Eventually.TrueAsync(async () => (await Post(api, "op-target")).IsSuccessStatusCode, TimeSpan.FromSeconds(30)),
            "the grain API did not accept a block");
        Assert.True(await Eventually.TrueAsync(() => Blocked(a, "op-target") && Blocked(b, "op-target"), TimeSpan.FromSeconds(5)));
        Assert.True(await Eventually.TrueAsync(async () => (await Post(api, "op-warm")).IsSuccessStatusCode, TimeSpan.FromSeconds(30)));

        // 100 blocks, one every 30 ms, each timed from its POST to the moment both edges enforce it (polled every 2 ms).
        const int Count = 100;
        var sent = new long[Count];
        var seen = new long[Count];
        ulong[] keys = [.. Enumerable.Range(0, Count).Select(i => DevicePolicy.KeyOf("op-" + i))];
        var posts = new List<Task<HttpResponseMessage>>();
        using var watching = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task watcher = Task.Run(async () =>
        {
            int remaining = Count;
            while (remaining > 0 && !watching.IsCancellationRequested)
            {
                for (int i = 0; i < Count; i++)
                {
                    if (seen[i] == 0 && Volatile.Read(ref sent[i]) != 0
                        && a.Node.Devices.Check(keys[i]) == Rejection.Blocked && b.Node.Devices.Check(keys[i]) == Rejection.Blocked)
                    {
                        seen[i] = Stopwatch.GetTimestamp();
                        remaining--;
                    }
                }

                await Task.Delay(2);
            }
        });
        for (int i = 0; i < Count; i++)
        {
            Volatile.Write(ref sent[i], Stopwatch.GetTimestamp());
            posts.Add(Post(api, "op-" + i));
            await Task.Delay(30);
        }

        HttpResponseMessage[] responses = await Task.WhenAll(posts);
        await watcher;
        Assert.All(responses, r => Assert.True(r.IsSuccessStatusCode, $"POST answered {(int)r.StatusCode}"));
        double[] latencies = [.. Enumerable.Range(0, Count).Select(i => seen[i] == 0 ? double.PositiveInfinity : (seen[i] - sent[i]) * 1000.0 / Stopwatch.Frequency).Order()];
        double p50 = latencies[(Count / 2) - 1], p99 = latencies[(int)Math.Ceiling(0.99 * Count) - 1], max = latencies[^1];
        Console.WriteLine($"operator block -> both edges: p50 {p50:F0} ms, p99 {p99:F0} ms, max {max:F0} ms over {Count} blocks");

        // Every block reached both edges (the latency target is the operator-block benchmark's: bench/Klais.SiloBench).
        Assert.DoesNotContain(double.PositiveInfinity, latencies);

        // After the block the device's datagrams stop at the edge: only the marker device's record reaches Kafka.
        long delivered = a.Node.Producer.Delivered;
        long blockedBefore = a.Node.Pipeline.Rejections[Rejection.Blocked];
        ControlPlaneFixture.Flood(a, "op-target", 20, firstSequence: 100);
        ControlPlaneFixture.Flood(a, "op-marker", 1);
        Assert.True(await Eventually.TrueAsync(() => a.Node.Producer.Delivered == delivered + 1, TimeSpan.FromSeconds(10)));
        Assert.Equal(blockedBefore + 20, a.Node.Pipeline.Rejections[Rejection.Blocked]);
        Assert.Equal(delivered + 1, a.Node.Producer.Delivered);
        foreach (HttpResponseMessage r in responses)
        {
            r.Dispose();
        }
    }

    private static bool Blocked(EdgeHarness edge, string deviceId) => edge.Node.Devices.Check(DevicePolicy.KeyOf(deviceId)) == Rejection.Blocked;

    private static Task<HttpResponseMessage> Post(HttpClient api, string deviceId) =>
        api.PostAsJsonAsync(new Uri($"/api/devices/{deviceId}/block", UriKind.Relative), new { ttl_seconds = 600, reason = "operator test" });
}
