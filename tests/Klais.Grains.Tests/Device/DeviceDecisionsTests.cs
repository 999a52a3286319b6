using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Node;
using Klais.Testing;

namespace Klais.Grains.Tests.Device;

public sealed class DeviceDecisionsTests
{
    private readonly ManualTimeProvider _clock = new();
    private readonly FakeDecisionContext _context;
    private readonly Dictionary<string, ulong> _sequences = [];

    public DeviceDecisionsTests() => _context = new FakeDecisionContext(_clock);

    private DeviceObservation From(string edge, DeviceObservation report)
    {
        _sequences[edge] = _sequences.GetValueOrDefault(edge) + 1;
        return report with { SourceId = edge, Sequence = _sequences[edge] };
    }

    private static DeviceObservation Report(ulong packets, string? vote = null, params string[] sources) => new()
    {
        SourceId = "",
        Sequence = 0,
        WindowMs = 1000,
        Packets = packets,
        Bytes = packets * 100,
        Duplicates = 1,
        Gaps = 2,
        SourceAddresses = sources,
        VoteReason = vote,
        VoteScore = vote is null ? 0 : 5,
    };

    [Fact]
    public void Statistics_accumulate_and_the_ewma_and_score_follow_the_formula()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        foreach (ulong packets in new ulong[] { 100, 100, 100, 100, 100, 100 })
        {
            Assert.True(grain.Apply(From("edge-1", Report(packets, null, "10.0.0.1")), _context));
        }

        DeviceState s = grain.State;
        Assert.Equal((600UL, 60_000UL, 6UL, 12UL, 6UL), (s.Packets, s.Bytes, s.Duplicates, s.Gaps, s.Reports));
        Assert.Equal(100, s.RateMean, 9);
        Assert.Equal(0, s.RateVariance, 9);
        Assert.Equal(0, s.AnomalyScore); // at the mean

        // 200/s, scored against mean 100 and the counting-noise floor sqrt(100 / 1 s) = 10 (the variance is still 0): z = 10.
        // Then diff 100, mean 100 + 0.1*100 = 110, variance 0.9*(0 + 100*10) = 900 (std 30)
        grain.Apply(From("edge-1", Report(200)), _context);
        Assert.Equal(10, s.AnomalyScore, 9);
        Assert.Equal(110, s.RateMean, 9);
        Assert.Equal(900, s.RateVariance, 9);
        // 170/s, scored before the update against mean 110, std 30: z = 2
        grain.Apply(From("edge-1", Report(170)), _context);
        Assert.Equal(2, s.AnomalyScore, 9);
        Assert.Equal(["10.0.0.1"], s.Sources);
        Assert.Equal("edge-1", Assert.Single(s.Edges).NodeId);
    }

    [Fact]
    public void A_replayed_record_changes_nothing()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        DeviceObservation first = From("edge-1", Report(10));
        Assert.True(grain.Apply(first, _context));
        Assert.False(grain.Apply(first, _context));
        Assert.False(grain.Apply(Report(10) with { SourceId = "edge-1", Sequence = first.Sequence - 1 }, _context));
        Assert.Equal(10UL, grain.State.Packets);
    }

    [Fact]
    public void Quorum_of_two_edges_within_the_window_blocks_with_ttl_reason_and_evidence()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        grain.Apply(From("edge-1", Report(10, "rate")), _context);
        Assert.Empty(_context.Control);
        _clock.Advance(TimeSpan.FromSeconds(20));
        grain.Apply(From("edge-2", Report(10, "duplicates")), _context);

        (string target, string key, ControlUpdate update) = Assert.Single(_context.Control);
        Assert.Equal(("*", "*/block/d"), (target, key));
        Assert.Equal(600, update.Block.TtlSeconds);
        Assert.Equal(_clock.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds(), update.Block.ExpiresUnixMs);
        Assert.Equal("consensus: 2 edges voted (duplicates, rate) within 30 s", update.Block.Reason);
        Assert.Contains(update.Block.Evidence, e => e.StartsWith("vote edge-1: rate", StringComparison.Ordinal));
        Assert.True(grain.IsBlocked(_clock.GetUtcNow()));
        Assert.Equal("consensus", grain.State.Block.Origin);
    }

    [Fact]
    public void Votes_older_than_the_window_do_not_count_and_one_edge_is_never_a_quorum()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        grain.Apply(From("edge-1", Report(10, "rate")), _context);
        grain.Apply(From("edge-1", Report(10, "rate")), _context);
        _clock.Advance(TimeSpan.FromSeconds(31));
        grain.Apply(From("edge-2", Report(10, "rate")), _context);

        Assert.Empty(_context.Control);
        Assert.Equal("edge-2", Assert.Single(grain.State.Votes).NodeId);
    }

    [Fact]
    public void Quorum_is_configurable()
    {
        _context.Consensus = new ConsensusOptions { Quorum = 3 };
        DeviceDecisions grain = DeviceDecisions.Create("d");
        grain.Apply(From("edge-1", Report(10, "rate")), _context);
        grain.Apply(From("edge-2", Report(10, "rate")), _context);
        Assert.Empty(_context.Control);
        grain.Apply(From("edge-3", Report(10, "rate")), _context);
        Assert.Single(_context.Control);
    }

    [Fact]
    public void Fleet_view_blocks_a_device_flooding_three_edges_without_any_vote()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        grain.Apply(From("edge-1", Report(5000)), _context);
        grain.Apply(From("edge-2", Report(5000)), _context);
        Assert.Empty(_context.Control);
        grain.Apply(From("edge-3", Report(5000)), _context);

        ControlUpdate update = Assert.Single(_context.Control).Update;
        Assert.StartsWith("fleet: flooding 3 edges at once", update.Block.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Fleet_view_blocks_one_id_from_many_addresses_seen_by_two_edges_within_the_window()
    {
        _context.Consensus = new ConsensusOptions { SourceThreshold = 12 };
        DeviceDecisions grain = DeviceDecisions.Create("d");
        DeviceObservation Sources(uint distinct, params string[] examples) => Report(50, null, examples) with { DistinctSources = distinct };

        grain.Apply(From("edge-1", Sources(20, "10.0.0.1", "10.0.0.2")), _context);
        Assert.Empty(_context.Control); // one edge only, however many addresses
        grain.Apply(From("edge-2", Sources(1, "192.0.2.9")), _context);
        Assert.Equal(21U, grain.State.Edges.Aggregate(0U, (n, e) => n + e.DistinctSources));

        Block block = Assert.Single(_context.Control).Update.Block;
        Assert.Equal("fleet: one id from 21 source addresses over 2 edges within 30 s", block.Reason);
        Assert.Contains(block.Evidence, e => e.Contains("edge-1 (20 sources)", StringComparison.Ordinal) && e.Contains("10.0.0.2", StringComparison.Ordinal));
    }

    [Fact]
    public void Addresses_seen_long_ago_do_not_count_towards_the_fleet_view()
    {
        _context.Consensus = new ConsensusOptions { SourceThreshold = 12 };
        DeviceDecisions grain = DeviceDecisions.Create("d");
        DeviceObservation report = Report(50) with { DistinctSources = 11 };
        grain.Apply(From("edge-1", report), _context);
        _clock.Advance(TimeSpan.FromMinutes(5)); // a device that moved networks a while ago
        report = Report(50) with { DistinctSources = 2 };
        grain.Apply(From("edge-2", report), _context);
        Assert.Empty(_context.Control);

        // edge-1 again: its old figure has left the window; one address a window for a while stays one.
        for (int i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            report = Report(50) with { DistinctSources = 1 };
            grain.Apply(From("edge-1", report), _context);
        }

        Assert.Equal(1U, grain.State.Edges.Single(e => e.NodeId == "edge-1").DistinctSources);
        Assert.Empty(_context.Control);
    }

    [Fact]
    public void An_interim_report_votes_and_shows_the_rate_but_its_counts_are_not_added_twice()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        DeviceObservation interim = Report(400, "rate") with { Interim = true, WindowMs = 250, DistinctSources = 1 };
        grain.Apply(From("edge-1", interim), _context);
        DeviceState s = grain.State;
        Assert.Equal((0UL, 0UL, 0UL), (s.Packets, s.Bytes, s.Reports));
        Assert.Equal(1600, Assert.Single(s.Edges).PacketsPerSecond);
        Assert.Equal("rate", Assert.Single(s.Votes).Reason);

        grain.Apply(From("edge-1", Report(1500)), _context); // the same window, in full
        Assert.Equal((1500UL, 150_000UL, 1UL), (s.Packets, s.Bytes, s.Reports));
        Assert.Equal(1500, s.RateMean);
    }

    [Fact]
    public void A_steady_device_with_counting_noise_scores_near_zero()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        foreach (ulong packets in new ulong[] { 100, 100, 100, 100, 100, 100, 100, 100, 101, 99, 100, 102 })
        {
            grain.Apply(From("edge-1", Report(packets)), _context);
            Assert.InRange(grain.State.AnomalyScore, -1, 1);
        }
    }

    [Fact]
    public void Block_expires_after_its_ttl_and_operator_commands_block_and_unblock()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        grain.BlockByOperator("maintenance", TimeSpan.FromSeconds(60), _context);
        Assert.Equal("operator", grain.State.Block.Origin);
        Assert.False(grain.Expire(_context));
        _clock.Advance(TimeSpan.FromSeconds(60));
        Assert.True(grain.Expire(_context));
        Assert.Null(grain.State.Block);
        Assert.Equal("ttl expired", _context.Control.Last().Update.Unblock.Reason);

        grain.BlockByOperator("x", TimeSpan.FromSeconds(600), _context);
        Assert.True(grain.UnblockByOperator("operator", _context));
        Assert.False(grain.UnblockByOperator("operator", _context));
        Assert.False(grain.IsBlocked(_clock.GetUtcNow()));
        Assert.Equal(["block", "unblock", "block", "unblock"], _context.Control.Select(c => c.Update.BodyCase == ControlUpdate.BodyOneofCase.Block ? "block" : "unblock"));
        Assert.Equal(2UL, grain.State.BlocksTotal);
    }

    [Fact]
    public void Node_grain_keeps_the_latest_report_and_its_health()
    {
        var node = new NodeDecisions(new NodeState { Last = new NodeReport { NodeId = "edge-1" } });
        Assert.True(node.Apply(new NodeObservation { SourceId = "edge-1", Sequence = 1, KafkaLag = 10, Cpu = 0.3, DegradationLevel = 0 }, _context));
        Assert.True(node.Apply(new NodeObservation { SourceId = "edge-1", Sequence = 2, KafkaLag = 99, Cpu = 0.9, DegradationLevel = 2 }, _context));
        Assert.False(node.Apply(new NodeObservation { SourceId = "edge-1", Sequence = 2, KafkaLag = 5 }, _context));
        Assert.Equal(99, node.State.Last.KafkaLag);
        Assert.Equal(2UL, node.State.Reports);
        Assert.Equal("degraded", node.ToSnapshot("s", _clock.GetUtcNow(), TimeSpan.FromSeconds(10)).Health);
        Assert.Contains(_context.Events, e => e.Kind == "degradation" && e.Detail == "level 0 -> 2");
        _clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal("stale", node.ToSnapshot("s", _clock.GetUtcNow(), TimeSpan.FromSeconds(10)).Health);
    }

    [Fact]
    public void The_outlier_profile_is_the_last_full_window_against_the_devices_own_history()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        Assert.Null(grain.Profile);
        grain.Apply(From("edge-1", Report(100)), _context);
        grain.Apply(From("edge-2", Report(300) with { DistinctSources = 7, Gaps = 100, Duplicates = 30 }), _context);
        Klais.Learning.Outliers.DeviceProfile p = grain.Profile!.Value;
        // Rate 300/s against the 100/s it usually sends; the window's 100 gaps of 400 and 30 duplicates of 300; two edges.
        Assert.Equal((300.0, 100.0, 7, 0.25, 0.1, 2), (p.Rate, p.UsualRate, p.DistinctSources, p.GapShare, p.DuplicateShare, p.Edges));
        Assert.Equal(Math.Sqrt(grain.State.RateVariance) / grain.State.RateMean, p.RateSpread, 12);

        // An interim report is counted again in full later: it does not change the profile.
        grain.Apply(From("edge-1", Report(5000) with { Interim = true }), _context);
        Assert.Equal(300.0, grain.Profile!.Value.Rate);
    }

    [Fact]
    public void The_outlier_models_vote_counts_like_an_edges_and_with_one_edge_makes_a_quorum()
    {
        DeviceDecisions grain = DeviceDecisions.Create("d");
        Assert.False(grain.Vote(DeviceDecisions.OutlierVoter, "fleet outlier 0.71", 0.71, _context)); // never seen: nothing to vote on
        grain.Apply(From("edge-1", Report(100)), _context);
        Assert.True(grain.Vote(DeviceDecisions.OutlierVoter, "fleet outlier 0.71", 0.71, _context));
        Assert.True(grain.Vote(DeviceDecisions.OutlierVoter, "fleet outlier 0.72", 0.72, _context)); // the same voter again: still one vote
        Assert.Null(grain.State.Block);
        Assert.Equal(("fleet-model", 0.72), (Assert.Single(grain.State.Votes).NodeId, grain.State.Votes[0].Score));

        grain.Apply(From("edge-1", Report(100, "rate")), _context); // quorum 2: the model and one edge
        Assert.NotNull(grain.State.Block);
        Assert.Equal("consensus", grain.State.Block.Origin);
        Assert.False(grain.Vote(DeviceDecisions.OutlierVoter, "fleet outlier 0.9", 0.9, _context)); // blocked: nothing to add
    }
}
