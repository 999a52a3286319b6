using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Runtime;

namespace Klais.Grains.Tests.Runtime;

/// <summary>Consensus at the grain level, end to end through klais.reports and klais.control on a mock cluster.</summary>
public sealed class ConsensusThroughKafkaTests
{
    private static DeviceReport Report(string device, string? vote = null) => new()
    {
        DeviceId = device,
        WindowMs = 1000,
        Packets = 100,
        Bytes = 6400,
        SourceAddresses = { "10.0.0.1" },
        Vote = vote is null ? null : new SuspicionVote { Reason = vote, Score = 6 },
    };

    [Fact]
    public async Task Votes_from_two_edges_block_the_device_and_one_edge_alone_does_not()
    {
        using var plane = new ControlPlaneCluster();
        SiloRuntime silo = plane.StartSilo("s1", new ConsensusOptions { Quorum = 2 });
        var control = new List<ControlEvent>();
        using var follower = new ControlFollower(plane.Bootstrap, "edge-1", e => { lock (control) { control.Add(e); } });
        follower.Start();
        using (ReportPublisher edge1 = plane.Publisher("edge-1"), edge2 = plane.Publisher("edge-2"))
        {
            edge1.PublishDevice(Report("two-votes", "rate"));
            edge2.PublishDevice(Report("two-votes", "duplicates"));
            edge1.PublishDevice(Report("one-vote", "rate"));
            edge1.PublishDevice(Report("one-vote", "rate")); // the same edge twice is still one edge
            edge2.PublishDevice(Report("one-vote"));         // a report without a vote
            Assert.True(edge1.Flush(TimeSpan.FromSeconds(10)) && edge2.Flush(TimeSpan.FromSeconds(10)));
        }

        Assert.True(await ControlPlaneCluster.WaitFor(() => silo.Counters.ProcessedRecords >= 5, TimeSpan.FromSeconds(30)),
            $"processed {silo.Counters.ProcessedRecords}");
        Assert.True(await ControlPlaneCluster.WaitFor(() => { lock (control) { return control.Count > 0; } }, TimeSpan.FromSeconds(10)));

        ControlEvent block;
        lock (control)
        {
            block = Assert.Single(control);
        }

        Assert.Equal(ControlKey.Block("two-votes"), block.Key);
        Assert.Equal("*", block.Update!.Target);
        Assert.Equal("two-votes", block.Update.Block.DeviceId);
        Assert.Equal(600, block.Update.Block.TtlSeconds);
        Assert.StartsWith("consensus: 2 edges voted (duplicates, rate)", block.Update.Block.Reason, StringComparison.Ordinal);
        Assert.Contains(block.Update.Block.Evidence, e => e.StartsWith("vote edge-1: rate", StringComparison.Ordinal));
        Assert.Contains(block.Update.Block.Evidence, e => e.StartsWith("vote edge-2: duplicates", StringComparison.Ordinal));

        (bool served, IGrain? grain) = await silo.RunTurnAsync(() =>
        {
            (bool s, IGrain? g, _) = silo.Peek(GrainKey.Device("one-vote"));
            return (s, g);
        });
        Assert.True(served);
        DeviceState oneVote = ((DeviceGrain)grain!).State;
        Assert.Null(oneVote.Block);
        Assert.Single(oneVote.Votes);
        Assert.Equal(300UL, oneVote.Packets);
    }
}
