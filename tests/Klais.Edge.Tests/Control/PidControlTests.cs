using Klais.Edge.Tests.EndToEnd;

namespace Klais.Edge.Tests.Control;

/// <summary>
/// The PID loop's wiring end to end: edge node reports → node grain → partition aggregates → SwarmGrain's PID → a
/// RateLimit on klais.control → the edge's Dam. How the loop settles is proved on a manual clock
/// (<see cref="PidLoopTests"/>); this test only proves the path carries it, and ends as soon as the rate moved. A
/// cluster and silo of its own: another test's traffic would move the fleet's burst forecast, whose rate cuts
/// multiply the PID's rate.
/// </summary>
[Collection(ControlPlaneFixture.Collection)]
public sealed class PidControlTests(ControlPlaneFixture plane) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task Kafka_lag_in_the_edges_node_reports_reaches_the_swarm_pid_and_lowers_the_edges_rate()
    {
        // The plant, injected through the reporter's lag hook: lag = 10000 + 3 × (rate − 1500), CPU at its target.
        // At the base rate of 2000/s the lag (11500) is above the 10000 target: the swarm's PID must lower the rate.
        await plane.WaitServingAsync();
        await using EdgeHarness edge = await plane.StartEdgeAsync("edge-pid", ("KLAIS_DAM_MAX_RATE", "2000"), ("KLAIS_DAM_BURST_SIZE", "2000"));
        edge.Node.Control!.LagOverride = () => (long)(10_000 + (3 * (edge.Node.Dam.CurrentRate - 1500)));
        edge.Node.Control.CpuOverride = () => 0.7;

        Assert.True(await Klais.Testing.Eventually.TrueAsync(() => edge.Node.Dam.CurrentRate < 2000, TimeSpan.FromSeconds(20)),
            "the swarm's PID did not lower the edge's rate");
        Assert.InRange(edge.Node.Dam.CurrentRate, 1500, 1999);
        Assert.True(edge.Node.Control.Applier.AppliedVersion > 0);
        Assert.InRange(edge.Node.Control.Applier.PidOutput, -1, -0.0005);
    }
}
