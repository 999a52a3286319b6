using Klais.Contracts.Proto;
using Klais.Grains.History;

namespace Klais.Grains.Tests.History;

[Trait("Category", "Unit")]
public sealed class FleetHistoryRingTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private static FleetHistorySample At(int second, double rate, int nodes = 2) => new(Start.AddSeconds(second), rate, rate * 100, 30, 1,
        [.. Enumerable.Range(0, nodes).Select(i => new NodeRate($"edge-{i:00}", rate / nodes + i, rate / nodes))]);

    [Fact]
    public void Keeps_the_newest_ten_minutes_oldest_first()
    {
        var state = new FleetHistoryState();
        var ring = new FleetHistoryRing(state);
        for (int s = 0; s < FleetHistoryRing.Capacity + 25; s++)
        {
            Assert.True(ring.Add(At(s, s)));
        }

        IReadOnlyList<FleetHistorySample> all = ring.After(null);
        Assert.Equal(FleetHistoryRing.Capacity, all.Count);
        Assert.Equal(Start.AddSeconds(25), all[0].At);
        Assert.Equal(FleetHistoryRing.Capacity + 24, all[^1].PacketsPerSecond);
        Assert.Equal(["edge-00", "edge-01"], all[^1].Nodes.Select(n => n.NodeId).Order());
    }

    [Fact]
    public void Since_returns_only_later_samples_and_an_old_sample_is_ignored()
    {
        var ring = new FleetHistoryRing(new FleetHistoryState());
        for (int s = 0; s < 10; s++)
        {
            ring.Add(At(s, 10 * s));
        }

        Assert.False(ring.Add(At(5, 999)));
        Assert.Equal([80.0, 90.0], ring.After(Start.AddSeconds(7)).Select(x => x.PacketsPerSecond));
        Assert.Empty(ring.After(Start.AddSeconds(9)));
    }

    [Fact]
    public void A_sample_keeps_the_busiest_edges_and_survives_a_round_trip_through_its_stored_bytes()
    {
        var state = new FleetHistoryState();
        new FleetHistoryRing(state).Add(At(0, 1000, nodes: 50));
        var restored = new FleetHistoryRing(FleetHistoryState.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteArray(state)));

        FleetHistorySample sample = Assert.Single(restored.After(null));
        Assert.Equal(FleetHistoryRing.MaxNodes, sample.Nodes.Count);
        Assert.Equal("edge-49", sample.Nodes[0].NodeId);
        Assert.Equal(1000 / 50.0 + 49, sample.Nodes[0].ReceivedPerSecond);
        Assert.DoesNotContain(sample.Nodes, n => n.NodeId == "edge-00");
        Assert.Equal(100_000, sample.BytesPerSecond);
    }
}
