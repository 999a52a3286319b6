using System.Diagnostics;
using Klais.Contracts.Proto;
using Klais.Contracts.Wire;
using Klais.Edge.Devices;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains.Device;
using Klais.Testing;

namespace Klais.Edge.Tests.Control;

/// <summary>Edges and a silo on one dev cluster: consensus and replay at restart (issue 5, edge side).</summary>
[Collection(ControlPlaneFixture.Collection)]
public sealed class ControlPlaneTests(ControlPlaneFixture plane) : IClassFixture<ControlPlaneFixture>
{
    private static bool Blocked(EdgeHarness edge, string deviceId) => edge.Node.Devices.ListBlocked().Any(b => b.DeviceId == deviceId);

    [Fact]
    public async Task A_device_flooding_two_edges_is_blocked_on_both_within_2_s_and_one_edges_suspicion_is_not_enough()
    {
        await plane.WaitServingAsync();
        await using EdgeHarness a = await plane.StartEdgeAsync("edge-a");
        await using EdgeHarness b = await plane.StartEdgeAsync("edge-b");

        // Above 300/s at one edge only: edge-a votes, nobody else does.
        ControlPlaneFixture.Flood(a, "lonely-1", 400);
        Assert.True(await Eventually.TrueAsync(() => a.Node.Control!.Votes >= 1, TimeSpan.FromSeconds(5)), "edge-a did not vote");

        ControlPlaneFixture.Flood(a, "flood-1", 400);
        Assert.True(await Eventually.TrueAsync(() => a.Node.Control!.Votes >= 2, TimeSpan.FromSeconds(5)), "edge-a did not vote on flood-1");
        long deciding = Stopwatch.GetTimestamp(); // before the second edge sees any of the flood: an upper bound
        ControlPlaneFixture.Flood(b, "flood-1", 400);
        Assert.True(await Eventually.TrueAsync(() => Blocked(a, "flood-1") && Blocked(b, "flood-1"), TimeSpan.FromSeconds(10)),
            $"not blocked on both edges; votes a={a.Node.Control!.Votes} b={b.Node.Control!.Votes}");
        TimeSpan latency = Stopwatch.GetElapsedTime(deciding);
        Console.WriteLine($"consensus: deciding flood at the second edge -> blocked on both edges in {latency.TotalMilliseconds:F0} ms");
        Assert.True(latency < TimeSpan.FromSeconds(2), $"consensus block took {latency.TotalMilliseconds:F0} ms");

        BlockEntry entry = b.Node.Devices.ListBlocked().Single(e => e.DeviceId == "flood-1");
        Assert.Equal(BlockSource.ControlPlane, entry.Source);
        Assert.StartsWith("consensus: 2 edges voted", entry.Reason, StringComparison.Ordinal);
        ControlPlaneFixture.Flood(b, "flood-1", 5, firstSequence: 1000);
        Assert.True(await Eventually.TrueAsync(() => b.Node.Pipeline.Rejections[Rejection.Blocked] >= 5, TimeSpan.FromSeconds(5)));

        // lonely-1: one vote in its grain, no block anywhere.
        (bool served, DeviceState? lonely) = await plane.Silo.RunTurnAsync(() =>
        {
            (bool s, Klais.Grains.IGrain? g, _) = plane.Silo.Peek(GrainKey.Device("lonely-1"));
            return (s, (g as DeviceGrain)?.State);
        });
        Assert.True(served);
        Assert.NotNull(lonely);
        Assert.Equal("edge-a", Assert.Single(lonely.Votes).NodeId);
        Assert.Null(lonely.Block);
        Assert.False(Blocked(a, "lonely-1") || Blocked(b, "lonely-1"));
    }

    [Fact]
    public async Task A_restarted_edge_rebuilds_its_blocklist_and_limits_from_klais_control_before_it_receives()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (EdgeHarness first = await plane.StartEdgeAsync("edge-r"))
        {
            plane.WriteControl(ControlKey.Block("banned-7"), new ControlUpdate
            {
                Version = 100, Target = "*", Block = new Block { DeviceId = "banned-7", TtlSeconds = 600, ExpiresUnixMs = now + 600_000, Reason = "operator: test" },
            });
            plane.WriteControl(ControlKey.DeviceLimit("slow-7"), new ControlUpdate
            {
                Version = 101, Target = "*", DeviceLimit = new DeviceLimit { DeviceId = "slow-7", RatePerSecond = 1, Burst = 1 },
            });
            Assert.True(await Eventually.TrueAsync(() => Blocked(first, "banned-7") && first.Node.Devices.ListLimits().Count == 1, TimeSpan.FromSeconds(5)),
                "the running edge did not apply the updates");
        }

        await using EdgeHarness restarted = await plane.StartEdgeAsync("edge-r");
        Assert.True(restarted.Node.Control!.CaughtUp.IsCompletedSuccessfully);
        Assert.InRange(restarted.Node.Control.CaughtUpAt, 1, restarted.Node.ReceivingSince);
        Assert.True(Blocked(restarted, "banned-7"));
        Assert.Equal(1, Assert.Single(restarted.Node.Devices.ListLimits()).Rate);
        Assert.True(restarted.Node.Control.Applier.AppliedVersion >= 101);

        // The very first datagram of the blocked device after the restart.
        ControlPlaneFixture.Flood(restarted, "banned-7", 1);
        Assert.True(await Eventually.TrueAsync(() => restarted.Node.Receiver.Datagrams == 1, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, restarted.Node.Pipeline.Rejections[Rejection.Blocked]);
        Assert.Equal(0, restarted.Node.Dam.Received);
    }
}
