using Klais.Contracts.Proto;
using Klais.Grains.Policy;
using Klais.Testing;

namespace Klais.Grains.Tests.Policy;

/// <summary>The rollout's decisions on a manual clock, with the edges' node reports made up per step.</summary>
[Trait("Category", "Unit")]
public sealed class PolicyRolloutTests
{
    private readonly ManualTimeProvider _clock = new();
    private readonly FakeDecisionContext _context;
    private readonly PolicyRollout _rollout = new(new PolicyFleetState());
    private readonly Dictionary<string, NodeSnapshot> _nodes = new(StringComparer.Ordinal);

    public PolicyRolloutTests()
    {
        _context = new FakeDecisionContext(_clock);
        foreach (string id in new[] { "edge-c", "edge-a", "edge-b", "edge-d" })
        {
            Report(id, version: 0);
        }
    }

    private void Report(string id, long version, double received = 1000, double dropped = 0, long lag = 10, int degradation = 0, long rejected = 0, string rejection = "") =>
        _nodes[id] = new NodeSnapshot
        {
            NodeId = id,
            OwnerSilo = "s",
            Health = "ok",
            LastReport = _clock.GetUtcNow(),
            ReceivedPerSecond = received,
            DroppedPerSecond = dropped,
            KafkaLag = lag,
            DegradationLevel = degradation,
            AppliedPolicyVersion = version,
            RejectedPolicyVersion = rejected,
            PolicyRejection = rejection,
        };

    /// <summary>Every edge that was sent <paramref name="version"/> (its latest policy record) reports it in force.</summary>
    private void EdgesApplyWhatTheyWereSent()
    {
        foreach (var group in _context.Control.Where(c => c.Update.Policy is not null && c.Target != "*").GroupBy(c => c.Target))
        {
            Report(group.Key, group.Last().Update.Policy.Version);
        }
    }

    private void Tick() => _rollout.Tick([.. _nodes.Values], _context);

    /// <summary>The model catalogue of the tests: one model, <see cref="KnownModel"/>.</summary>
    private const string KnownModel = "sha256:0123456789ab";

    private static string? Catalogue(string version) => version == KnownModel ? null : $"no model has version {version}.";

    private long Create(string rate = "2000") => CreateWith(new() { ["dam_max_rate"] = rate });

    private long CreateWith(Dictionary<string, string> settings)
    {
        PolicyResult created = _rollout.Create(new PolicyDraft(settings, "test"), _context, Catalogue);
        Assert.Equal(PolicyStatus.Ok, created.Status);
        return created.Version;
    }

    /// <summary>Moves a rolling version through its current stage: the edges apply it, the bake passes.</summary>
    private void PassStage()
    {
        EdgesApplyWhatTheyWereSent();
        Tick();
        _clock.Advance(TimeSpan.FromSeconds(10));
        Tick();
    }

    private IEnumerable<string> SentTo(long version) =>
        _context.Control.Where(c => c.Update.Policy?.Version == version && c.Target != "*").Select(c => c.Target).Distinct().Order();

    [Fact]
    public void A_good_policy_goes_to_the_canary_then_the_stages_and_completes_after_each_bake()
    {
        long v = Create();
        Assert.Equal(PolicyStatus.Ok, _rollout.Start(v, new RolloutRequest { Stages = [0, 50, 100], BakeSeconds = 10 }, [.. _nodes.Values], _context).Status);
        Assert.Equal(["edge-a"], SentTo(v)); // the canary: the first edge by id
        Assert.Equal("2000", _context.Control[0].Update.Policy.Settings["dam_max_rate"]);
        Assert.Equal("edge-a/policy", _context.Control[0].Key);

        Tick();
        Assert.Equal(0, _rollout.Find(v)!.BakeStartedUnixMs); // not applied yet: no bake
        _clock.Advance(TimeSpan.FromSeconds(2));
        EdgesApplyWhatTheyWereSent();
        Tick();
        Assert.NotEqual(0, _rollout.Find(v)!.BakeStartedUnixMs);
        Assert.Equal("applied", _rollout.Find(v)!.History[^1].Outcome);
        Assert.Contains("2.0 s after the stage was decided", _rollout.Find(v)!.History[^1].Detail);

        _clock.Advance(TimeSpan.FromSeconds(9));
        Tick();
        Assert.Equal(["edge-a"], SentTo(v)); // still baking
        _clock.Advance(TimeSpan.FromSeconds(1));
        Tick();
        Assert.Equal(["edge-a", "edge-b"], SentTo(v)); // 50% of four edges
        Assert.Equal(1, _rollout.Find(v)!.Stage);

        EdgesApplyWhatTheyWereSent();
        Tick();
        _clock.Advance(TimeSpan.FromSeconds(10));
        Tick();
        Assert.Equal(["edge-a", "edge-b", "edge-c", "edge-d"], SentTo(v));
        EdgesApplyWhatTheyWereSent();
        Tick();
        _clock.Advance(TimeSpan.FromSeconds(10));
        Tick();

        PolicyRecord p = _rollout.Find(v)!;
        Assert.Equal(PolicyRollout.Complete, p.State);
        Assert.Equal(v, _rollout.State.CurrentVersion);
        Assert.Equal(0, _rollout.State.ActiveVersion);
        Assert.All(p.Edges, e => Assert.Equal(v, e.AppliedVersion));
        Assert.Equal(("*", "*/policy"), (_context.Control[^1].Target, _context.Control[^1].Key));
        Assert.Equal(["started", "applied", "passed", "started", "applied", "passed", "started", "applied", "passed", "complete"], p.History.Select(h => h.Outcome));
        Assert.False(_rollout.Busy);
    }

    [Fact]
    public void A_canary_that_drops_most_of_its_traffic_is_rolled_back_and_no_other_edge_is_sent_the_policy()
    {
        long good = Create("5000");
        _rollout.Start(good, new RolloutRequest { Stages = [100], BakeSeconds = 0 }, [.. _nodes.Values], _context);
        EdgesApplyWhatTheyWereSent();
        Tick();
        Tick();
        Assert.Equal(good, _rollout.State.CurrentVersion);

        long bad = Create("5");
        _rollout.Start(bad, new RolloutRequest { Stages = [0, 100], BakeSeconds = 30 }, [.. _nodes.Values], _context);
        EdgesApplyWhatTheyWereSent();
        Tick(); // applied: the bake starts
        _clock.Advance(TimeSpan.FromSeconds(3));
        Report("edge-a", bad, received: 1000, dropped: 950);
        Tick();

        PolicyRecord p = _rollout.Find(bad)!;
        Assert.Equal(PolicyRollout.RolledBack, p.State);
        GateDecision failed = p.History[^1];
        Assert.Equal(("failed", "drop_share", "edge-a"), (failed.Outcome, failed.Gate, failed.NodeId));
        Assert.Contains("drop share 0.950", failed.Detail);
        Assert.Contains("baseline 0.000", failed.Detail);
        Assert.Equal(["edge-a"], SentTo(bad));
        (string target, string key, ControlUpdate back) = _context.Control[^1];
        Assert.Equal(("edge-a", "edge-a/policy", good, "5000"), (target, key, back.Policy.Version, back.Policy.Settings["dam_max_rate"]));
        Assert.Contains(_context.Events, e => e.Kind == "policy_rollback" && e.Detail.Contains("gate drop_share failed") && e.Detail.Contains("0.950"));

        // The edge confirms the previous version: the rollback is done and a new rollout may start.
        Assert.True(_rollout.Busy);
        EdgesApplyWhatTheyWereSent();
        Tick();
        Assert.False(_rollout.Busy);
        Assert.Equal("reverted", p.History[^1].Outcome);
    }

    [Theory]
    [InlineData("degradation", 0, 0, 2, 0)]
    [InlineData("kafka_lag", 0, 60_000, 0, 0)]
    [InlineData("report_freshness", 0, 0, 0, 31)]
    public void Each_gate_fails_on_its_own_figure(string gate, double dropped, long lag, int degradation, int staleSeconds)
    {
        long v = Create();
        _rollout.Start(v, new RolloutRequest { Stages = [0, 100], BakeSeconds = 60 }, [.. _nodes.Values], _context);
        EdgesApplyWhatTheyWereSent();
        Tick();
        Report("edge-a", v, dropped: dropped, lag: lag, degradation: degradation);
        _clock.Advance(TimeSpan.FromSeconds(staleSeconds + 1));
        if (staleSeconds == 0)
        {
            Report("edge-a", v, dropped: dropped, lag: lag, degradation: degradation);
        }

        Tick();
        Assert.Equal((PolicyRollout.RolledBack, gate), (_rollout.Find(v)!.State, _rollout.Find(v)!.History[^1].Gate));
    }

    [Fact]
    public void A_rejected_policy_and_a_stage_never_acknowledged_roll_back()
    {
        long v = Create();
        _rollout.Start(v, new RolloutRequest { Stages = [0, 100] }, [.. _nodes.Values], _context);
        Report("edge-a", 0, rejected: v, rejection: "KLAIS_DAM_MAX_RATE is \"x\"");
        Tick();
        Assert.Equal(("rejected", "edge-a"), (_rollout.Find(v)!.History[^1].Gate, _rollout.Find(v)!.History[^1].NodeId));

        Tick(); // edge-a never had it: the rollback is confirmed at once
        Assert.False(_rollout.Busy);
        long w = Create();
        _rollout.Start(w, new RolloutRequest { Stages = [0, 100], AckTimeoutSeconds = 5 }, [.. _nodes.Values], _context);
        _clock.Advance(TimeSpan.FromSeconds(6));
        Tick();
        Assert.Equal(("failed", "ack"), (_rollout.Find(w)!.History[^1].Outcome, _rollout.Find(w)!.History[^1].Gate));
    }

    [Fact]
    public void Pause_holds_the_stage_resume_restarts_its_bake_and_abort_returns_the_edges()
    {
        long v = Create();
        _rollout.Start(v, new RolloutRequest { Stages = [0, 100], BakeSeconds = 10 }, [.. _nodes.Values], _context);
        EdgesApplyWhatTheyWereSent();
        Tick();
        Assert.Equal(PolicyStatus.Ok, _rollout.Pause(v, _context).Status);
        Assert.Equal(PolicyStatus.Conflict, _rollout.Pause(v, _context).Status);
        _clock.Advance(TimeSpan.FromSeconds(30));
        Report("edge-a", v, dropped: 1000); // a paused rollout judges nothing
        Tick();
        Assert.Equal((PolicyRollout.Paused, 0), (_rollout.Find(v)!.State, _rollout.Find(v)!.Stage));

        Report("edge-a", v);
        Assert.Equal(PolicyStatus.Ok, _rollout.Resume(v, _context).Status);
        _clock.Advance(TimeSpan.FromSeconds(9));
        Tick();
        Assert.Equal(0, _rollout.Find(v)!.Stage); // the bake started over at resume
        Assert.Equal(PolicyStatus.Ok, _rollout.Abort(v, _context).Status);
        Assert.Equal(PolicyRollout.Aborted, _rollout.Find(v)!.State);
        Assert.Equal(("edge-a", 0L), (_context.Control[^1].Target, _context.Control[^1].Update.Policy.Version));
        Assert.Empty(_context.Control[^1].Update.Policy.Settings); // version 0: the configured settings
        Assert.Equal(PolicyStatus.Conflict, _rollout.Abort(v, _context).Status);
        Assert.Equal(PolicyStatus.Conflict, _rollout.Resume(v, _context).Status);
        Assert.Equal(PolicyStatus.NotFound, _rollout.Pause(99, _context).Status);
    }

    [Fact]
    public void Silo_side_settings_come_into_force_at_the_last_stage_never_reach_the_edges_and_return_on_a_rollback()
    {
        long v = CreateWith(new() { ["dam_max_rate"] = "3000", ["consensus_quorum"] = "1", ["block_ttl_seconds"] = "60", ["burst_model_version"] = KnownModel });
        Assert.Equal(0, _rollout.FleetSettings().Version);
        Assert.Empty(_rollout.FleetSettings().Settings);

        _rollout.Start(v, new RolloutRequest { Stages = [0, 50, 100], BakeSeconds = 10 }, [.. _nodes.Values], _context);
        Assert.Equal(["dam_max_rate"], _context.Control[^1].Update.Policy.Settings.Keys); // the edges get their own settings only
        PassStage();
        Assert.Equal(1, _rollout.Find(v)!.Stage);
        Assert.Equal(0, _rollout.FleetSettings().Version); // canary and 50 %: the silos keep their configuration
        PassStage();
        Assert.Equal(2, _rollout.Find(v)!.Stage);

        FleetSettingsView inForce = _rollout.FleetSettings(); // the last stage: in force with it, baked and gated with it
        Assert.Equal(v, inForce.Version);
        Assert.Equal(new Dictionary<string, string> { ["consensus_quorum"] = "1", ["block_ttl_seconds"] = "60", ["burst_model_version"] = KnownModel },
            inForce.Settings.ToDictionary());
        Assert.Equal("fleet_settings", _rollout.Find(v)!.History[^1].Outcome);
        Assert.Contains("consensus_quorum=1", _rollout.Find(v)!.History[^1].Detail, StringComparison.Ordinal);
        Assert.Contains(_context.Events, e => e.Detail.Contains($"silo-side settings of version {v} in force on every silo", StringComparison.Ordinal));
        Assert.All(_context.Control.Where(c => c.Update.Policy is not null), c =>
            Assert.DoesNotContain(c.Update.Policy.Settings.Keys, k => k is "consensus_quorum" or "block_ttl_seconds" or "burst_model_version"));

        // A failing gate in the last stage rolls the silos back as well as the edges.
        Report("edge-c", v, received: 1000, dropped: 900);
        Tick();
        Assert.Equal(PolicyRollout.RolledBack, _rollout.Find(v)!.State);
        Assert.Equal(0, _rollout.FleetSettings().Version);
        Assert.Empty(_rollout.FleetSettings().Settings);
        Assert.Equal(0, _rollout.ToView(_rollout.Find(v)!, "s").FleetSettingsVersion);
    }

    [Fact]
    public void A_policy_pinning_a_model_the_silos_do_not_have_or_a_malformed_version_or_silo_settings_out_of_bounds_is_refused()
    {
        PolicyResult unknown = _rollout.Create(new PolicyDraft(new() { ["burst_model_version"] = "sha256:ffffffffffff" }, ""), _context, Catalogue);
        Assert.Equal(PolicyStatus.Invalid, unknown.Status);
        Assert.Equal(["settings.burst_model_version: no model has version sha256:ffffffffffff."], unknown.Problems);

        PolicyResult bad = _rollout.Create(new PolicyDraft(new()
        {
            ["burst_model_version"] = "latest", ["consensus_quorum"] = "0", ["consensus_window_seconds"] = "86401", ["block_ttl_seconds"] = "1.5",
        }, ""), _context, Catalogue);
        Assert.Equal(PolicyStatus.Invalid, bad.Status);
        Assert.Equal(4, bad.Problems.Count);
        Assert.Contains(bad.Problems, p => p.StartsWith("settings.burst_model_version is \"latest\"", StringComparison.Ordinal));
        foreach (string name in new[] { "consensus_quorum", "consensus_window_seconds", "block_ttl_seconds" })
        {
            Assert.Contains(bad.Problems, p => p.Contains($"(settings.{name})", StringComparison.Ordinal));
        }

        Assert.Empty(_rollout.State.Policies);
    }

    [Fact]
    public void Bad_drafts_and_plans_are_refused_with_every_problem()
    {
        PolicyResult bad = _rollout.Create(new PolicyDraft(new() { ["dam_max_rate"] = "0", ["dam_burst_size"] = "1.5", ["colour"] = "red" }, ""), _context, Catalogue);
        Assert.Equal(PolicyStatus.Invalid, bad.Status);
        Assert.Equal(3, bad.Problems.Count);
        Assert.Contains(bad.Problems, p => p.StartsWith("settings.colour", StringComparison.Ordinal));
        Assert.Contains(bad.Problems, p => p.Contains("(settings.dam_max_rate)", StringComparison.Ordinal));
        Assert.Contains(bad.Problems, p => p.Contains("(settings.dam_burst_size)", StringComparison.Ordinal));

        long v = Create();
        PolicyResult plan = _rollout.Start(v, new RolloutRequest { Stages = [50, 0, 40], BakeSeconds = -1 }, [.. _nodes.Values], _context);
        Assert.Equal(PolicyStatus.Invalid, plan.Status);
        Assert.Equal(4, plan.Problems.Count); // canary not first, 40 after 50... not increasing, last not 100, bake
        Assert.Equal(PolicyRollout.Draft, _rollout.Find(v)!.State);
        Assert.Empty(_context.Control);
    }

    [Fact]
    public void After_a_failover_republish_sends_the_active_version_to_the_edges_that_do_not_report_it()
    {
        long v = Create();
        _rollout.Start(v, new RolloutRequest { Stages = [0, 50, 100] }, [.. _nodes.Values], _context);
        var survivor = new PolicyRollout(_rollout.State.Clone());
        var context = new FakeDecisionContext(_clock);
        survivor.Republish(context);
        Assert.Equal([("edge-a", "edge-a/policy", v)], context.Control.Select(c => (c.Target, c.Key, c.Update.Policy.Version)));
        Assert.Equal((PolicyRollout.Rolling, 0), (survivor.Find(v)!.State, survivor.Find(v)!.Stage));
    }
}
