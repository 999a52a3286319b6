using Klais.Grains.Device;
using Klais.Grains.Index;
using Klais.Testing;

namespace Klais.Grains.Tests.Orleans;

/// <summary>The fleet outlier model through the grains: device grains → outlier shards → the model's vote → consensus.</summary>
public sealed class OutlierGrainTests(OutlierClusterFixture fixture) : IClassFixture<OutlierClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Conclusive_outliers_get_the_models_vote_which_alone_blocks_nobody_and_with_one_edges_vote_blocks()
    {
        // A mixed fleet of 1200 devices (5 % behind NAT, 10 % seen by two edges, some loss and repeats, rates that vary
        // from window to window), two report windows each. (A feature the whole fleet shares one value of is never split
        // on: a fleet without any loss could not tell a device with loss.)
        var random = new Random(5);
        var fleet = Enumerable.Range(0, 1200).Select(i => $"fleet-{i:D4}").ToList();
        await Parallel.ForEachAsync(fleet, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
        {
            int seed;
            lock (random)
            {
                seed = random.Next();
            }

            var r = new Random(seed);
            ulong packets = (ulong)(2 + r.Next(5));
            uint sources = r.NextDouble() < 0.05 ? (uint)(2 + r.Next(2)) : 1;
            bool roaming = r.NextDouble() < 0.1;
            DeviceObservation Window(string edge) => GrainTests.Report(edge, packets + (ulong)r.Next(3), null, sources, gaps: r.NextDouble() < 0.2 ? 1UL : 0,
                duplicates: r.NextDouble() < 0.1 ? 1UL : 0);
            IDeviceGrain grain = fixture.Grains.GetGrain<IDeviceGrain>(id);
            await grain.Apply([Window("edge-a")]);
            await grain.Apply(roaming ? [Window("edge-a"), Window("edge-b")] : [Window("edge-a")]);
        });

        IOutlierIndexGrain[] shards = Enumerable.Range(0, GrainKeys.OutlierShards)
            .Select(i => fixture.Grains.GetGrain<IOutlierIndexGrain>($"outliers-{i}")).ToArray();
        Assert.True(await Eventually.TrueAsync(async () => (await Task.WhenAll(shards.Select(s => s.Describe()))).All(d => d.FittedAt is not null), Bound),
            "not every shard fitted its forest: " + string.Join(", ", (await Task.WhenAll(shards.Select(s => s.Describe()))).Select(d => $"{d.Shard} {d.Devices} devices")));

        // The forest's conclusive outliers (score >= 0.65) among these devices get the model's vote, one-way, through the
        // device grains; the model alone blocks nobody.
        List<DeviceSnapshot> voted = [];
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            voted = (await Task.WhenAll(fleet.Select(id => fixture.Grains.GetGrain<IDeviceGrain>(id).Describe())))
                .Where(d => d!.Votes.Any(v => v.NodeId == DeviceDecisions.OutlierVoter)).Select(d => d!).ToList();
            return voted.Count > 0;
        }, Bound), "no device got the model's vote: " + string.Join(", ", (await Task.WhenAll(shards.Select(s => s.Describe())))
            .Select(d => $"{d.Shard}: {d.Devices} devices, {d.Scored} scored, {d.Votes} votes, {d.Refused} refused")));
        OutlierModelSnapshot[] described = await Task.WhenAll(shards.Select(s => s.Describe()));
        Console.WriteLine($"outlier shards: {described.Sum(d => d.Scored)} vectors scored, {described.Sum(d => d.Votes)} votes; "
            + $"{voted.Count} of {fleet.Count} devices voted on: " + string.Join(" ", voted.Select(d => $"{d.DeviceId}({d.Votes.Single(v => v.NodeId == DeviceDecisions.OutlierVoter).Score:0.00})")));
        Assert.All(voted, d =>
        {
            VoteInfo vote = d.Votes.Single(v => v.NodeId == DeviceDecisions.OutlierVoter);
            Assert.StartsWith("fleet outlier ", vote.Reason, StringComparison.Ordinal);
            Assert.InRange(vote.Score, 0.65, 1);
            Assert.False(d.Blocked);
        });
        Assert.True(described.Sum(d => d.Votes) >= voted.Count); // a device may be voted on for each of its vectors
        Assert.InRange(voted.Count, 1, fleet.Count / 20); // honest devices the model voted on: at most 5 % (docs/learning.md)

        // One edge's vote on such a device makes the quorum of 2.
        IDeviceGrain outlier = fixture.Grains.GetGrain<IDeviceGrain>(voted[0].DeviceId);
        await outlier.Apply([GrainTests.Report("edge-a", 3, vote: "rate")]);
        DeviceSnapshot blocked = (await outlier.Describe())!;
        Assert.True(blocked.Blocked, "the model's vote and one edge's make a quorum of 2");
        Assert.Contains("2 edges voted", blocked.Block!.Reason, StringComparison.Ordinal);
    }
}
