using Klais.Contracts.Proto;
using Klais.Testing;

namespace Klais.Grains.Tests.Orleans;

/// <summary>The policy grain as Orleans runs it: its own timer moves the rollout on the node grains' reports.</summary>
[Collection(GrainClusterGroup.Name)]
public sealed class PolicyGrainTests(GrainClusterFixture fixture)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private ulong _sequence;

    private Task<ApplyResult> Report(string node, long applied, double dropped) => fixture.Grains.GetGrain<INodeGrain>(node).Apply(new NodeObservation
    {
        SourceId = node,
        Sequence = ++_sequence,
        ReceivedPerSecond = 1000,
        PassedPerSecond = 1000 - dropped,
        DroppedPerSecond = dropped,
        KafkaLag = 5,
        AppliedPolicyVersion = applied,
    });

    [Fact]
    public async Task The_grain_sends_the_canary_its_policy_and_rolls_it_back_by_itself_when_its_drop_share_rises()
    {
        // "0…" sorts before every other node of the shared cluster: this node is the canary.
        string canary = "0canary-" + Guid.NewGuid().ToString("N")[..8];
        await Report(canary, 0, 0);
        IPolicyGrain policies = fixture.Grains.GetGrain<IPolicyGrain>("test-" + Guid.NewGuid().ToString("N")[..8]);

        PolicyResult created = await policies.Create(new PolicyDraft(new() { ["dam_max_rate"] = "5" }, "too tight"));
        Assert.Equal((PolicyStatus.Ok, 1L), (created.Status, created.Version));
        PolicyResult started = await policies.Rollout(1, new RolloutRequest { Stages = [RolloutRequest.Canary, 100], BakeSeconds = 600, MaxReportAgeSeconds = 3600 });
        Assert.Equal((PolicyStatus.Ok, "rolling"), (started.Status, started.Policy!.State));
        Assert.Equal(PolicyStatus.Conflict, (await policies.Rollout(1, new RolloutRequest())).Status);
        Assert.True(await Eventually.TrueAsync(() => fixture.Control.For(ControlKey.NodePolicy(canary)).Count == 1, Bound));
        Assert.Equal("5", fixture.Control.For(ControlKey.NodePolicy(canary))[0].Policy.Settings["dam_max_rate"]);

        await Report(canary, 1, 0);
        Assert.True(await Eventually.TrueAsync(async () => (await policies.Describe(1))!.BakeStarted is not null, Bound));
        Assert.Equal((1L, true), ((await policies.Describe(1))!.Edges[canary].AppliedVersion, (await policies.Describe(1))!.Edges[canary].Healthy));

        await Report(canary, 1, 900);
        Assert.True(await Eventually.TrueAsync(async () => (await policies.Describe(1))!.State == "rolled_back", Bound));
        PolicyView view = (await policies.Describe(1))!;
        GateDecisionView failed = view.History.Single(h => h.Outcome == "failed");
        Assert.Equal(("drop_share", canary, "canary"), (failed.Gate, failed.NodeId, failed.Stage));
        Assert.Contains("drop share 0.900", failed.Detail, StringComparison.Ordinal);
        Assert.Equal(0, fixture.Control.For(ControlKey.NodePolicy(canary))[^1].Policy.Version);
        Assert.Equal(PolicyStatus.NotFound, (await policies.Abort(7)).Status);
        IReadOnlyList<GrainEvent> events = await fixture.Grains.GetGrain<IEventLogGrain>(GrainKeys.Fleet).List(100);
        Assert.Contains(events, e => e.Kind == "policy_rollback" && e.Detail.Contains(canary, StringComparison.Ordinal));
    }
}
