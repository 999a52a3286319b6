using Klais.Contracts.Proto;
using Klais.Grains.Policy;
using Klais.Grains.Swarm;
using Klais.Learning.Burst;
using Klais.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.Grains.Tests.Orleans;

/// <summary>
/// The silo-side settings of a fleet policy as the silos take them: PolicyGrain("fleet") names them, every silo's
/// follower applies them within seconds, device grains decide with them. A cluster of its own: quorum 1 would change
/// the decisions other tests expect.
/// </summary>
[Collection(FleetPolicyClusterGroup.Name)]
public sealed class FleetPolicyGrainTests(FleetPolicyClusterFixture fixture)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_rolled_out_quorum_block_ttl_and_model_pin_reach_every_silo_and_device_grains_decide_with_them_until_the_abort()
    {
        string shipped = BurstModel.VersionOf(await File.ReadAllBytesAsync(BurstModelOptions.ShippedModel));
        IPolicyGrain policies = fixture.Grains.GetGrain<IPolicyGrain>(GrainKeys.Fleet);
        await NodeReport("edge-1", 0);

        PolicyResult missing = await policies.Create(new PolicyDraft(new() { ["burst_model_version"] = "sha256:000000000000" }, ""));
        Assert.Equal(PolicyStatus.Invalid, missing.Status);
        Assert.Equal($"settings.burst_model_version: no model in {Path.GetDirectoryName(BurstModelOptions.ShippedModel)} has version sha256:000000000000; the models there: {shipped} (burst.onnx).",
            Assert.Single(missing.Problems));

        // Before: quorum 2 (configured), so one edge's vote does not block.
        string before = "before-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Grains.GetGrain<IDeviceGrain>(before).Apply([GrainTests.Report("edge-1", 5000, "rate")]);
        Assert.False((await fixture.Grains.GetGrain<IDeviceGrain>(before).Describe())!.Blocked);

        PolicyResult created = await policies.Create(new PolicyDraft(new()
        {
            ["consensus_quorum"] = "1", ["block_ttl_seconds"] = "90", ["burst_model_version"] = shipped, ["suspect_rate"] = "4000",
        }, "one edge is enough"));
        Assert.Equal(PolicyStatus.Ok, created.Status);
        PolicyResult started = await policies.Rollout(created.Version, new RolloutRequest { Stages = [100], BakeSeconds = 600, MaxReportAgeSeconds = 3600 });
        Assert.Equal((PolicyStatus.Ok, created.Version), (started.Status, started.Policy!.FleetSettingsVersion));
        Assert.Equal(["suspect_rate"], fixture.Control.For(ControlKey.NodePolicy("edge-1"))[^1].Policy.Settings.Keys);

        // Every silo takes the settings within a few of its 2 s polls; the pinned model is the shipped one, found by version.
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(fixture.SiloServices().All(s =>
            s.GetRequiredService<FleetPolicySettings>().Consensus is { Quorum: 1 } c && c.BlockTtl == TimeSpan.FromSeconds(90))), Bound));
        Assert.All(fixture.SiloServices(), s =>
        {
            Assert.Equal(created.Version, s.GetRequiredService<FleetPolicySettings>().InForce.Version);
            Assert.Equal(TimeSpan.FromSeconds(30), s.GetRequiredService<FleetPolicySettings>().Consensus.VoteWindow); // not in the policy: as configured
            BurstModelService model = s.GetRequiredService<BurstModelService>();
            Assert.Equal((shipped, "onnx", shipped), (model.Pinned, model.Status.Kind, model.Status.Version));
        });

        // One edge's vote now blocks, for the policy's TTL.
        string after = "after-" + Guid.NewGuid().ToString("N")[..8];
        DateTimeOffset voted = DateTimeOffset.UtcNow;
        await fixture.Grains.GetGrain<IDeviceGrain>(after).Apply([GrainTests.Report("edge-1", 5000, "rate")]);
        DeviceSnapshot blocked = (await fixture.Grains.GetGrain<IDeviceGrain>(after).Describe())!;
        Assert.True(blocked.Blocked);
        Assert.Equal("1 edge voted (rate) within 30 s", blocked.Block!.Reason);
        Assert.InRange(blocked.Block.ExpiresAt - voted, TimeSpan.FromSeconds(85), TimeSpan.FromSeconds(95));

        // Aborted: the silos return to their configuration, the pin is lifted.
        Assert.Equal(PolicyStatus.Ok, (await policies.Abort(created.Version)).Status);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(fixture.SiloServices().All(s =>
            s.GetRequiredService<FleetPolicySettings>().Consensus.Quorum == 2 && s.GetRequiredService<BurstModelService>().Pinned is null)), Bound));
        string aborted = "aborted-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Grains.GetGrain<IDeviceGrain>(aborted).Apply([GrainTests.Report("edge-1", 5000, "rate")]);
        Assert.False((await fixture.Grains.GetGrain<IDeviceGrain>(aborted).Describe())!.Blocked);
        Assert.Equal(0, (await policies.FleetSettings()).Version);
    }

    private Task<ApplyResult> NodeReport(string node, long applied) => fixture.Grains.GetGrain<INodeGrain>(node).Apply(new NodeObservation
    {
        SourceId = node,
        Sequence = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        ReceivedPerSecond = 1000,
        PassedPerSecond = 1000,
        KafkaLag = 5,
        AppliedPolicyVersion = applied,
    });
}

/// <summary>The grain cluster of <see cref="GrainClusterFixture"/>, for tests that change fleet-wide settings.</summary>
public sealed class FleetPolicyClusterFixture : GrainClusterFixture
{
    public IEnumerable<IServiceProvider> SiloServices() => Cluster.Silos.Select(s => s.SiloHost.Services);
}

[CollectionDefinition(Name)]
public sealed class FleetPolicyClusterGroup : ICollectionFixture<FleetPolicyClusterFixture>
{
    public const string Name = "orleans fleet policy cluster";
}
