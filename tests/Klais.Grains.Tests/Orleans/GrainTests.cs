using Klais.Contracts.Proto;
using Klais.Testing;

namespace Klais.Grains.Tests.Orleans;

/// <summary>The grains as Orleans runs them, on two in-process silos: every call goes through the runtime.</summary>
[Collection(GrainClusterGroup.Name)]
public sealed class GrainTests(GrainClusterFixture fixture)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static long _sequence = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;

    /// <summary>One edge's one-second report of a device, with a sequence no other report of the run has.</summary>
    internal static DeviceObservation Report(string edge, ulong packets, string? vote = null, uint sources = 1, ulong gaps = 0, ulong duplicates = 0) => new()
    {
        SourceId = edge,
        Sequence = (ulong)Interlocked.Increment(ref _sequence),
        WindowStartUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        WindowMs = 1000,
        Packets = packets,
        Bytes = packets * 60,
        Gaps = gaps,
        Duplicates = duplicates,
        DistinctSources = sources,
        VoteReason = vote,
        VoteScore = vote is null ? 0 : 6,
    };

    private static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Votes_of_two_edges_block_the_device_and_one_edge_alone_does_not()
    {
        string alone = NewId("alone"), flooder = NewId("flood");
        IDeviceGrain one = fixture.Grains.GetGrain<IDeviceGrain>(alone);
        await one.Apply([Report("edge-1", 5000, "rate")]);
        await one.Apply([Report("edge-1", 5000, "rate")]);
        Assert.False((await one.Describe())!.Blocked);
        Assert.Empty(fixture.Control.For(ControlKey.Block(alone)));

        IDeviceGrain both = fixture.Grains.GetGrain<IDeviceGrain>(flooder);
        ApplyResult first = await both.Apply([Report("edge-1", 5000, "rate")]);
        ApplyResult second = await both.Apply([Report("edge-2", 4000, "rate")]);

        Assert.Equal((1, true, 1, true), (first.Applied, first.Durable, second.Applied, second.Durable));
        DeviceSnapshot device = (await both.Describe())!;
        Assert.True(device.Blocked);
        Assert.Equal("consensus", device.Block!.Origin);
        Assert.Equal("consensus: 2 edges voted (rate) within 30 s", Assert.Single(fixture.Control.For(ControlKey.Block(flooder))).Block.Reason);
        Assert.Contains(await fixture.Grains.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet).List(), a => a.DeviceId == flooder && a.Blocked);
    }

    [Fact]
    public async Task A_replayed_batch_changes_nothing()
    {
        string id = NewId("replay");
        IDeviceGrain grain = fixture.Grains.GetGrain<IDeviceGrain>(id);
        DeviceObservation[] batch = [Report("edge-1", 10), Report("edge-1", 20), Report("edge-2", 30)];
        Assert.Equal(3, (await grain.Apply(batch)).Applied);
        Assert.Equal(0, (await grain.Apply(batch)).Applied);
        Assert.Equal(60UL, (await grain.Describe())!.Packets);
    }

    [Fact]
    public async Task Fleet_views_block_a_device_flooding_three_edges_and_an_id_from_many_addresses()
    {
        string flooding = NewId("flood3"), cloned = NewId("clone");
        IDeviceGrain flood = fixture.Grains.GetGrain<IDeviceGrain>(flooding);
        await flood.Apply([Report("edge-1", 5000), Report("edge-2", 5000)]);
        Assert.False((await flood.Describe())!.Blocked);
        await flood.Apply([Report("edge-3", 5000)]);
        Assert.StartsWith("flooding 3 edges at once", (await flood.Describe())!.Block!.Reason, StringComparison.Ordinal);

        IDeviceGrain clone = fixture.Grains.GetGrain<IDeviceGrain>(cloned);
        await clone.Apply([Report("edge-1", 50, sources: 10)]);
        Assert.False((await clone.Describe())!.Blocked); // one edge, however many addresses
        await clone.Apply([Report("edge-2", 50, sources: 3)]);
        DeviceSnapshot device = (await clone.Describe())!;
        Assert.Equal(("fleet", "one id from 13 source addresses over 2 edges within 30 s"), (device.Block!.Origin, device.Block.Reason));
    }

    [Fact]
    public async Task Operator_block_and_unblock_reach_klais_control_and_the_anomaly_index()
    {
        string id = NewId("op");
        IDeviceGrain grain = fixture.Grains.GetGrain<IDeviceGrain>(id);
        Assert.Null(await grain.Unblock("nothing to lift")); // never seen

        DeviceSnapshot blocked = await grain.Block(600, "maintenance");
        Assert.Equal(("operator", "maintenance"), (blocked.Block!.Origin, blocked.Block.Reason));
        Assert.Equal(600, Assert.Single(fixture.Control.For(ControlKey.Block(id))).Block.TtlSeconds);
        Assert.Contains(await fixture.Grains.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet).List(), a => a.DeviceId == id && a.Blocked);

        DeviceSnapshot lifted = (await grain.Unblock("operator: done"))!;
        Assert.False(lifted.Blocked);
        Assert.Equal("operator: done", fixture.Control.For(ControlKey.Block(id))[^1].Unblock.Reason);
        Assert.DoesNotContain(await fixture.Grains.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet).List(), a => a.DeviceId == id);
        Assert.Contains(await fixture.Grains.GetGrain<IEventLogGrain>(GrainKeys.Fleet).List(100), e => e.Grain == "device/" + id && e.Kind == "unblock");
    }

    [Fact]
    public async Task A_block_expires_on_time_even_after_its_grain_was_deactivated()
    {
        string id = NewId("ttl");
        IDeviceGrain grain = fixture.Grains.GetGrain<IDeviceGrain>(id);
        await grain.Apply([Report("edge-1", 10), Report("edge-2", 10)]);
        DeviceSnapshot blocked = await grain.Block(2, "short");
        Assert.True(blocked.Blocked);
        await fixture.Cluster.DeactivateAsync(grain);

        // The reminder, not a live activation, lifts it: it reactivates the grain (from stored state) when the TTL ends.
        Assert.True(await Eventually.TrueAsync(() => fixture.Control.For(ControlKey.Block(id)).Any(u => u.Unblock?.Reason == "ttl expired"), Bound),
            "the block was not lifted by its reminder");
        DeviceSnapshot after = (await grain.Describe())!;
        Assert.False(after.Blocked);
        Assert.Equal((20UL, 1UL), (after.Packets, after.BlocksTotal)); // the reactivated grain has its stored counters
        Assert.True(after.LastSeen < blocked.Block!.ExpiresAt);
    }

    [Fact]
    public async Task State_survives_deactivation()
    {
        string id = NewId("state");
        IDeviceGrain grain = fixture.Grains.GetGrain<IDeviceGrain>(id);
        DeviceObservation report = Report("edge-1", 42, vote: "duplicates");
        await grain.Apply([report]);
        await fixture.Cluster.DeactivateAsync(grain);

        DeviceSnapshot device = (await grain.Describe())!;
        Assert.Equal((42UL, 1), (device.Packets, device.Votes.Count));
        Assert.Equal(0, (await grain.Apply([report])).Applied); // its sequences were stored too
    }

    [Fact]
    public async Task Swarm_runs_a_pid_per_edge_and_the_burst_table_on_the_fleet_rate()
    {
        string edge = NewId("edge");
        INodeGrain node = fixture.Grains.GetGrain<INodeGrain>(edge);
        ISwarmGrain swarm = fixture.Grains.GetGrain<ISwarmGrain>(GrainKeys.Fleet);
        ulong sequence = (ulong)Interlocked.Increment(ref _sequence);
        await node.Apply(new NodeObservation { SourceId = edge, Sequence = sequence, KafkaLag = 5000, Cpu = 0.5, BaseRate = 10_000 });
        Assert.Contains(await fixture.Grains.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List(), n => n.NodeId == edge && n.Health == "ok");

        // The fleet rate triples at each step: Holt's trend makes a burst likely, the response cuts rates and widens queues.
        // The grain steps on its own timer, so a step may see one contribution or two: the rate keeps rising until the
        // table reaches its top level (at least 8 steps, at most 16), rather than for a fixed count.
        double rate = 1000;
        DateTimeOffset? last = null;
        for (int step = 0; step < 16 && (step < 8 || (await swarm.Describe()).BurstLevel < 3); step++)
        {
            await swarm.Contribute(new SiloAggregate { SiloId = "test", AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), PacketsPerSecond = rate, ActiveDevices = 10 });
            DateTimeOffset? seen = last;
            Assert.True(await Eventually.TrueAsync(async () => (await swarm.Describe()).At is { } at && at != seen, Bound), "the swarm grain did not step");
            last = (await swarm.Describe()).At;
            rate *= 3;
        }

        FleetSnapshot fleet = await swarm.Describe();
        ControlledNode controlled = Assert.Single(fleet.Nodes, n => n.NodeId == edge);
        Assert.Equal(3, fleet.BurstLevel);
        Assert.True(fleet.BurstProbability >= 0.8);
        RateLimit limit = fixture.Control.For(ControlKey.Rate(edge))[^1].GlobalRate;
        Assert.Equal(2, limit.QueueScale);
        Assert.Equal(10_000 * (1 + limit.PidOutput) * 0.5, limit.RatePerSecond, 6);
        Assert.Equal(limit.RatePerSecond, controlled.Rate, 6);
        Assert.Contains(fixture.Control.For(ControlKey.Burst), u => u.Burst.Level == 3);
    }

    [Fact]
    public async Task Fleet_history_samples_the_edges_every_second_oldest_first_and_keeps_them_across_deactivation()
    {
        string edge = NewId("edge");
        await fixture.Grains.GetGrain<INodeGrain>(edge).Apply(new NodeObservation
        {
            SourceId = edge, Sequence = (ulong)Interlocked.Increment(ref _sequence), ReceivedPerSecond = 123, PassedPerSecond = 120,
        });
        IFleetHistoryGrain history = fixture.Grains.GetGrain<IFleetHistoryGrain>(NewId("history"));
        await history.Start();

        Assert.True(await Eventually.TrueAsync(async () =>
            (await history.List(null)).Count(s => s.Nodes.Any(n => n.NodeId == edge && n.ReceivedPerSecond == 123 && n.PassedPerSecond == 120)) >= 3, Bound),
            "the history grain did not sample the edge");
        IReadOnlyList<FleetHistorySample> before = await history.List(null);
        Assert.True(before.Zip(before.Skip(1)).All(p => p.Second.At > p.First.At), "samples out of order");
        Assert.Equal(before.Skip(1).Select(s => s.At), (await history.List(before[0].At)).Take(before.Count - 1).Select(s => s.At));

        await fixture.Cluster.DeactivateAsync(history);
        IReadOnlyList<FleetHistorySample> after = await history.List(null);
        Assert.Equal(before.Select(s => s.At), after.Take(before.Count).Select(s => s.At));
    }

    [Fact]
    public async Task The_policy_grain_sends_the_canary_its_policy_and_rolls_it_back_by_itself_when_its_drop_share_rises()
    {
        // "0…" sorts before every other node of the shared cluster: this node is the canary.
        string canary = "0canary-" + Guid.NewGuid().ToString("N")[..8];
        await NodeReport(canary, 0, 0);
        IPolicyGrain policies = fixture.Grains.GetGrain<IPolicyGrain>("test-" + Guid.NewGuid().ToString("N")[..8]);

        PolicyResult created = await policies.Create(new PolicyDraft(new() { ["dam_max_rate"] = "5" }, "too tight"));
        Assert.Equal((PolicyStatus.Ok, 1L), (created.Status, created.Version));
        PolicyResult started = await policies.Rollout(1, new RolloutRequest { Stages = [RolloutRequest.Canary, 100], BakeSeconds = 600, MaxReportAgeSeconds = 3600 });
        Assert.Equal((PolicyStatus.Ok, "rolling"), (started.Status, started.Policy!.State));
        Assert.Equal(PolicyStatus.Conflict, (await policies.Rollout(1, new RolloutRequest())).Status);
        Assert.True(await Eventually.TrueAsync(() => fixture.Control.For(ControlKey.NodePolicy(canary)).Count == 1, Bound));
        Assert.Equal("5", fixture.Control.For(ControlKey.NodePolicy(canary))[0].Policy.Settings["dam_max_rate"]);

        await NodeReport(canary, 1, 0);
        Assert.True(await Eventually.TrueAsync(async () => (await policies.Describe(1))!.BakeStarted is not null, Bound));
        Assert.Equal((1L, true), ((await policies.Describe(1))!.Edges[canary].AppliedVersion, (await policies.Describe(1))!.Edges[canary].Healthy));

        await NodeReport(canary, 1, 900);
        Assert.True(await Eventually.TrueAsync(async () => (await policies.Describe(1))!.State == "rolled_back", Bound));
        PolicyView view = (await policies.Describe(1))!;
        GateDecisionView failed = view.History.Single(h => h.Outcome == "failed");
        Assert.Equal(("drop_share", canary, "canary"), (failed.Gate, failed.NodeId, failed.Stage));
        Assert.Contains("drop share 0.900", failed.Detail, StringComparison.Ordinal);
        Assert.Equal(0, fixture.Control.For(ControlKey.NodePolicy(canary))[^1].Policy.Version);
        Assert.Equal(PolicyStatus.NotFound, (await policies.Abort(7)).Status);
        Assert.True(await Eventually.TrueAsync(async () => (await fixture.Grains.GetGrain<IEventLogGrain>(GrainKeys.Fleet).List(100))
            .Any(e => e.Kind == "policy_rollback" && e.Detail.Contains(canary, StringComparison.Ordinal)), Bound)); // recorded just after the state
    }

    private Task<ApplyResult> NodeReport(string node, long applied, double dropped) => fixture.Grains.GetGrain<INodeGrain>(node).Apply(new NodeObservation
    {
        SourceId = node,
        Sequence = (ulong)Interlocked.Increment(ref _sequence),
        ReceivedPerSecond = 1000,
        PassedPerSecond = 1000 - dropped,
        DroppedPerSecond = dropped,
        KafkaLag = 5,
        AppliedPolicyVersion = applied,
    });
}
