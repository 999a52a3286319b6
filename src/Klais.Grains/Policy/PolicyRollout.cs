using System.Globalization;
using Klais.Contracts.Configuration;
using Klais.Contracts.Proto;
using Klais.Grains.Turns;

namespace Klais.Grains.Policy;

/// <summary>
/// The policy grain's decisions over its stored <see cref="PolicyFleetState"/>, as a plain class: creating versions,
/// starting, pausing, resuming and aborting a rollout, and <see cref="Tick"/>, which takes the edges' latest node
/// reports and moves the rollout: acknowledgements, gates against the baseline, bake, next stage, completion or
/// rollback. Every step it takes is in the stored state before the control records that act on it are sent (the
/// grain writes, then sends), and <see cref="Republish"/> sends them again after a failover, so an edge is never left
/// on a version the state does not know.
/// </summary>
internal sealed class PolicyRollout(PolicyFleetState state)
{
    public const string Draft = "draft";
    public const string Rolling = "rolling";
    public const string Paused = "paused";
    public const string Complete = "complete";
    public const string RolledBack = "rolled_back";
    public const string Aborted = "aborted";

    /// <summary>Gate decisions kept per version; the oldest go first.</summary>
    public const int MaxHistory = 200;

    private const string Grain = "policy/fleet";

    public PolicyFleetState State { get; } = state;

    /// <summary>True while a rollout moves or a rollback is not yet confirmed by every edge: the grain must keep ticking.</summary>
    public bool Busy => State.ActiveVersion != 0 || State.RevertingVersion != 0;

    public PolicyRecord? Find(long version) => State.Policies.FirstOrDefault(p => p.Version == version);

    /// <summary>
    /// A new draft version, or every problem of its settings. <paramref name="modelProblem"/> judges a well-formed
    /// <see cref="PolicySettings.BurstModelVersion"/>: null when the silos have that model, else why not.
    /// </summary>
    public PolicyResult Create(PolicyDraft draft, IDecisionContext context, Func<string, string?> modelProblem)
    {
        List<string> problems = [.. PolicySettings.Validate(draft.Settings)];
        if (draft.Settings.Count == 0)
        {
            problems.Add("settings must name at least one setting.");
        }

        if (draft.Settings.TryGetValue(PolicySettings.BurstModelVersion, out string? model) && PolicySettings.IsModelVersion(model)
            && modelProblem(model) is { } missing)
        {
            problems.Add($"settings.{PolicySettings.BurstModelVersion}: {missing}");
        }

        if (problems.Count > 0)
        {
            return new PolicyResult(PolicyStatus.Invalid, 0, problems, null);
        }

        long version = State.Policies.Count == 0 ? 1 : State.Policies.Max(p => p.Version) + 1;
        var record = new PolicyRecord
        {
            Version = version,
            Description = draft.Description,
            CreatedUnixMs = context.Now.ToUnixTimeMilliseconds(),
            State = Draft,
            Stage = -1,
        };
        record.Settings.Add(draft.Settings);
        State.Policies.Add(record);
        context.Record("policy", Grain, $"version {version} created: {Describe(record.Settings)}");
        return new PolicyResult(PolicyStatus.Ok, version, [], null);
    }

    /// <summary>Starts a rollout of a draft over the edges reporting now (fresh ones only), their figures the baseline.</summary>
    public PolicyResult Start(long version, RolloutRequest plan, IReadOnlyList<NodeSnapshot> nodes, IDecisionContext context)
    {
        IReadOnlyList<string> problems = plan.Validate();
        if (problems.Count > 0)
        {
            return new PolicyResult(PolicyStatus.Invalid, version, problems, null);
        }

        PolicyRecord? p = Find(version);
        if (p is null)
        {
            return PolicyResult.Refused(PolicyStatus.NotFound, version, $"Policy version {version} does not exist.");
        }

        if (p.State != Draft)
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, $"Policy version {version} is {p.State}; only a draft can be rolled out (versions are immutable: create a new one).");
        }

        if (State.ActiveVersion != 0)
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, $"Version {State.ActiveVersion} is being rolled out; pause is not enough, abort it or wait for it to end.");
        }

        if (State.RevertingVersion != 0)
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, $"The edges of version {State.RevertingVersion} are still returning to version {State.CurrentVersion}; retry once they all have.");
        }

        List<NodeSnapshot> edges = [.. nodes.Where(n => n.Health != "stale").OrderBy(n => n.NodeId, StringComparer.Ordinal)];
        if (edges.Count == 0)
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, "No edge is reporting: a rollout needs at least one edge whose reports are fresh.");
        }

        p.Plan = new RolloutPlan
        {
            BakeSeconds = plan.BakeSeconds,
            MaxDropShareIncrease = plan.MaxDropShareIncrease,
            MaxDegradationIncrease = plan.MaxDegradationIncrease,
            MaxKafkaLagIncrease = plan.MaxKafkaLagIncrease,
            MaxReportAgeSeconds = plan.MaxReportAgeSeconds,
            AckTimeoutSeconds = plan.AckTimeoutSeconds,
        };
        p.Plan.Stages.Add(plan.Stages);
        p.PreviousVersion = State.CurrentVersion;
        int reached = 0;
        for (int stage = 0; stage < plan.Stages.Count; stage++)
        {
            int upTo = Math.Max(reached, plan.Stages[stage] == RolloutRequest.Canary ? 1 : (int)Math.Ceiling(plan.Stages[stage] * edges.Count / 100.0));
            for (; reached < upTo && reached < edges.Count; reached++)
            {
                NodeSnapshot n = edges[reached];
                p.Edges.Add(new PolicyEdge
                {
                    NodeId = n.NodeId,
                    Stage = stage,
                    AppliedVersion = n.AppliedPolicyVersion,
                    Healthy = true,
                    BaselineDropShare = DropShare(n),
                    BaselineKafkaLag = n.KafkaLag,
                    BaselineDegradation = n.DegradationLevel,
                });
            }
        }

        p.State = Rolling;
        State.ActiveVersion = version;
        context.Record("policy", Grain, string.Create(CultureInfo.InvariantCulture,
            $"version {version} rollout started over {edges.Count} edges, stages {string.Join(", ", StageNames(p))}, bake {plan.BakeSeconds} s; baseline {string.Join("; ", p.Edges.Select(Baseline))}"));
        EnterStage(p, 0, context);
        return new PolicyResult(PolicyStatus.Ok, version, [], null);
    }

    public PolicyResult Pause(long version, IDecisionContext context) => Transition(version, Rolling, Paused, "paused", context);

    public PolicyResult Resume(long version, IDecisionContext context) => Transition(version, Paused, Rolling, "resumed", context);

    /// <summary>Ends a rolling or paused rollout and returns every edge it reached to the previous version.</summary>
    public PolicyResult Abort(long version, IDecisionContext context)
    {
        PolicyRecord? p = Find(version);
        if (p is null)
        {
            return PolicyResult.Refused(PolicyStatus.NotFound, version, $"Policy version {version} does not exist.");
        }

        if (p.State is not (Rolling or Paused))
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, $"Policy version {version} is {p.State}; only a rolling or paused rollout can be aborted.");
        }

        End(p, Aborted, "aborted", "operator", null, "aborted by an operator", context);
        return new PolicyResult(PolicyStatus.Ok, version, [], null);
    }

    /// <summary>
    /// One step: takes the edges' reports, then, for a rolling version, checks rejections and gates on every edge
    /// running it, starts the bake once the stage's edges all applied it, and moves on when the bake passed. True when
    /// the state changed (the grain writes it before sending what the step emitted).
    /// </summary>
    public bool Tick(IReadOnlyList<NodeSnapshot> nodes, IDecisionContext context)
    {
        var byId = new Dictionary<string, NodeSnapshot>(StringComparer.Ordinal);
        foreach (NodeSnapshot n in nodes)
        {
            byId[n.NodeId] = n;
        }

        long now = context.Now.ToUnixTimeMilliseconds();
        bool changed = false;
        if (Find(State.RevertingVersion) is { } reverting)
        {
            changed |= Observe(reverting, byId, now);
            if (reverting.Edges.Where(e => e.Published).All(e => e.AppliedVersion == reverting.PreviousVersion))
            {
                Decide(reverting, context, "reverted", null, null, $"every edge it reached is back on version {reverting.PreviousVersion}");
                State.RevertingVersion = 0;
                changed = true;
            }
            else if (now - reverting.FinishedUnixMs > reverting.Plan.AckTimeoutSeconds * 1000L)
            {
                string missing = string.Join(", ", reverting.Edges.Where(e => e.Published && e.AppliedVersion != reverting.PreviousVersion).Select(e => $"{e.NodeId} (on version {e.AppliedVersion})"));
                Decide(reverting, context, "revert_unconfirmed", null, null, $"not confirmed within {reverting.Plan.AckTimeoutSeconds} s by {missing}; their records stay in klais.control");
                context.Record("policy", Grain, $"version {reverting.Version}: return to version {reverting.PreviousVersion} not confirmed by {missing}");
                State.RevertingVersion = 0;
                changed = true;
            }
        }

        if (Find(State.ActiveVersion) is not { } p)
        {
            return changed;
        }

        changed |= Observe(p, byId, now);
        if (p.State != Rolling)
        {
            return changed;
        }

        foreach (PolicyEdge e in p.Edges.Where(e => e.Published))
        {
            byId.TryGetValue(e.NodeId, out NodeSnapshot? n);
            if (n is not null && n.RejectedPolicyVersion == p.Version && e.AppliedVersion != p.Version)
            {
                e.Problem = "rejected: " + n.PolicyRejection;
                End(p, RolledBack, "failed", "rejected", e.NodeId, $"{e.NodeId} rejected version {p.Version}: {n.PolicyRejection}", context);
                return true;
            }

            if (e.AppliedVersion != p.Version || n is null)
            {
                // Not running it yet, or not listed right now (the node index is being rebuilt after a failover):
                // nothing to judge. An edge that stops reporting stays listed, and its stale report fails freshness.
                continue;
            }

            (string? gate, string detail) = Gate(e, n, p.Plan, context.Now);
            if (e.Healthy != (gate is null))
            {
                e.Healthy = gate is null;
                changed = true;
            }

            if (gate is not null)
            {
                e.Problem = detail;
                End(p, RolledBack, "failed", gate, e.NodeId, detail, context);
                return true;
            }
        }

        List<PolicyEdge> targets = [.. p.Edges.Where(e => e.Published)];
        if (p.BakeStartedUnixMs == 0)
        {
            if (targets.All(e => e.AppliedVersion == p.Version))
            {
                p.BakeStartedUnixMs = now;
                double seconds = (targets.Max(e => e.AppliedUnixMs) - p.StageStartedUnixMs) / 1000.0;
                Decide(p, context, "applied", null, null, string.Create(CultureInfo.InvariantCulture,
                    $"{targets.Count(e => e.Stage == p.Stage)} new edges ({string.Join(", ", targets.Where(e => e.Stage == p.Stage).Select(e => e.NodeId))}) acknowledged it {Math.Max(0, seconds):0.0} s after the stage was decided; bake {p.Plan.BakeSeconds} s"));
                return true;
            }

            if (now - p.StageStartedUnixMs > p.Plan.AckTimeoutSeconds * 1000L)
            {
                string missing = string.Join(", ", targets.Where(e => e.AppliedVersion != p.Version).Select(e => $"{e.NodeId} (on version {e.AppliedVersion})"));
                End(p, RolledBack, "failed", "ack", null, $"not applied within {p.Plan.AckTimeoutSeconds} s by {missing}", context);
                return true;
            }

            return changed;
        }

        if (now - p.BakeStartedUnixMs >= p.Plan.BakeSeconds * 1000L)
        {
            Decide(p, context, "passed", null, null, string.Create(CultureInfo.InvariantCulture,
                $"baked {(now - p.BakeStartedUnixMs) / 1000.0:0.0} s; {string.Join("; ", targets.Select(e => Figures(e, byId.GetValueOrDefault(e.NodeId))))}"));
            if (p.Stage + 1 < p.Plan.Stages.Count)
            {
                EnterStage(p, p.Stage + 1, context);
            }
            else
            {
                p.State = Complete;
                p.FinishedUnixMs = now;
                State.CurrentVersion = p.Version;
                State.ActiveVersion = 0;
                Decide(p, context, "complete", null, null, $"every edge runs version {p.Version}");
                context.Record("policy", Grain, $"version {p.Version} complete on {targets.Count} edges");
                context.EmitControl(ControlPlaneTopics.AllEdges, ControlKey.Policy, Update(p.Version, p.Settings));
            }

            return true;
        }

        return changed;
    }

    /// <summary>
    /// What the edges must hold, sent again (after an activation: the silo that decided may have died between writing
    /// the state and sending): the active version to every edge it reached that does not report it, the previous
    /// version to every edge of a rollback not yet confirmed. Idempotent on the edges.
    /// </summary>
    public void Republish(IDecisionContext context)
    {
        if (Find(State.ActiveVersion) is { } active)
        {
            foreach (PolicyEdge e in active.Edges.Where(e => e.Published && e.AppliedVersion != active.Version))
            {
                context.EmitControl(e.NodeId, ControlKey.NodePolicy(e.NodeId), Update(active.Version, active.Settings));
            }
        }

        if (Find(State.RevertingVersion) is { } reverting)
        {
            Revert(reverting, context, onlyUnconfirmed: true);
        }
    }

    /// <summary>The silo-side settings in force fleet-wide: those of the version the state names, none for 0.</summary>
    public FleetSettingsView FleetSettings() => new(State.FleetSettingsVersion,
        Find(State.FleetSettingsVersion)?.Settings.Where(s => PolicySettings.IsFleet(s.Key)).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal)
        ?? new Dictionary<string, string>(StringComparer.Ordinal));

    public PolicyView ToView(PolicyRecord p, string ownerSilo)
    {
        RolloutPlan? plan = p.Plan;
        return new PolicyView
        {
            Version = p.Version,
            Description = p.Description,
            Settings = new Dictionary<string, string>(p.Settings),
            State = p.State,
            Stage = p.Stage,
            Stages = plan is null ? [] : StageNames(p),
            BakeSeconds = plan?.BakeSeconds ?? 0,
            PreviousVersion = p.PreviousVersion,
            Created = DateTimeOffset.FromUnixTimeMilliseconds(p.CreatedUnixMs),
            StageStarted = At(p.StageStartedUnixMs),
            BakeStarted = At(p.BakeStartedUnixMs),
            Finished = At(p.FinishedUnixMs),
            Edges = p.Edges.ToDictionary(e => e.NodeId, e => new PolicyEdgeView(e.AppliedVersion, e.Healthy, StageName(plan!.Stages[e.Stage]), e.Published,
                At(e.AppliedUnixMs), e.Problem.Length == 0 ? null : e.Problem), StringComparer.Ordinal),
            History = [.. p.History.Select(h => new GateDecisionView(DateTimeOffset.FromUnixTimeMilliseconds(h.UnixMs),
                h.Stage >= 0 && plan is not null ? StageName(plan.Stages[h.Stage]) : "", h.Outcome, h.Gate.Length == 0 ? null : h.Gate,
                h.NodeId.Length == 0 ? null : h.NodeId, h.Detail))],
            Gates = plan is null ? [] : new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["max_drop_share_increase"] = plan.MaxDropShareIncrease, ["max_degradation_increase"] = plan.MaxDegradationIncrease,
                ["max_kafka_lag_increase"] = plan.MaxKafkaLagIncrease, ["max_report_age_seconds"] = plan.MaxReportAgeSeconds,
                ["ack_timeout_seconds"] = plan.AckTimeoutSeconds,
            },
            FleetVersion = State.CurrentVersion,
            OwnerSilo = ownerSilo,
            FleetSettingsVersion = State.FleetSettingsVersion,
        };
    }

    /// <summary>
    /// The first gate <paramref name="edge"/> fails against its baseline, with its figures; null when it passes.
    /// A report older than allowed fails report freshness.
    /// </summary>
    internal static (string? Gate, string Detail) Gate(PolicyEdge edge, NodeSnapshot node, RolloutPlan plan, DateTimeOffset now)
    {
        var c = CultureInfo.InvariantCulture;
        double age = (now - node.LastReport).TotalSeconds;
        if (age > plan.MaxReportAgeSeconds)
        {
            return ("report_freshness", string.Create(c, $"{edge.NodeId}: last report {age:0.0} s old (allowed {plan.MaxReportAgeSeconds} s)"));
        }

        if (node.DegradationLevel - edge.BaselineDegradation > plan.MaxDegradationIncrease)
        {
            return ("degradation", string.Create(c,
                $"{edge.NodeId}: degradation level {node.DegradationLevel} against baseline {edge.BaselineDegradation} (allowed +{plan.MaxDegradationIncrease})"));
        }

        double share = DropShare(node);
        if (share - edge.BaselineDropShare > plan.MaxDropShareIncrease)
        {
            return ("drop_share", string.Create(c,
                $"{edge.NodeId}: drop share {share:0.000} ({node.DroppedPerSecond:0.#}/s dropped of {node.ReceivedPerSecond:0.#}/s received) against baseline {edge.BaselineDropShare:0.000} (allowed +{plan.MaxDropShareIncrease:0.###})"));
        }

        if (node.KafkaLag - edge.BaselineKafkaLag > plan.MaxKafkaLagIncrease)
        {
            return ("kafka_lag", string.Create(c,
                $"{edge.NodeId}: Kafka lag {node.KafkaLag} against baseline {edge.BaselineKafkaLag} (allowed +{plan.MaxKafkaLagIncrease})"));
        }

        return (null, "");
    }

    internal static double DropShare(NodeSnapshot n) => n.ReceivedPerSecond > 0 ? Math.Clamp(n.DroppedPerSecond / n.ReceivedPerSecond, 0, 1) : 0;

    private PolicyResult Transition(long version, string from, string to, string outcome, IDecisionContext context)
    {
        PolicyRecord? p = Find(version);
        if (p is null)
        {
            return PolicyResult.Refused(PolicyStatus.NotFound, version, $"Policy version {version} does not exist.");
        }

        if (p.State != from)
        {
            return PolicyResult.Refused(PolicyStatus.Conflict, version, $"Policy version {version} is {p.State}; only a {from} rollout can be {outcome}.");
        }

        p.State = to;
        if (to == Rolling)
        {
            // The clocks of the stage start over: what was measured before the pause says little about now.
            long now = context.Now.ToUnixTimeMilliseconds();
            p.StageStartedUnixMs = now;
            if (p.BakeStartedUnixMs != 0)
            {
                p.BakeStartedUnixMs = now;
            }
        }

        Decide(p, context, outcome, null, null, $"{outcome} by an operator at stage {StageName(p.Plan.Stages[p.Stage])}");
        context.Record("policy", Grain, $"version {version} {outcome} at stage {StageName(p.Plan.Stages[p.Stage])}");
        return new PolicyResult(PolicyStatus.Ok, version, [], null);
    }

    private void EnterStage(PolicyRecord p, int stage, IDecisionContext context)
    {
        p.Stage = stage;
        p.StageStartedUnixMs = context.Now.ToUnixTimeMilliseconds();
        p.BakeStartedUnixMs = 0;
        List<PolicyEdge> reached = [.. p.Edges.Where(e => e.Stage == stage)];
        foreach (PolicyEdge e in reached)
        {
            e.Published = true;
            context.EmitControl(e.NodeId, ControlKey.NodePolicy(e.NodeId), Update(p.Version, p.Settings));
        }

        Decide(p, context, "started", null, null, reached.Count == 0 ? "no new edge at this stage"
            : $"sent to {string.Join(", ", reached.Select(e => e.NodeId))}");
        if (stage == p.Plan.Stages.Count - 1)
        {
            // The silos' settings have no stages of their own: they change with the last one, and bake and are gated with it.
            SetFleetSettings(p, p.Version, context);
        }
    }

    /// <summary>
    /// Puts the silo-side settings of <paramref name="version"/> in force fleet-wide (the silos pick them up within
    /// seconds); recorded in <paramref name="p"/>'s history and the event log when they differ from those before.
    /// </summary>
    private void SetFleetSettings(PolicyRecord p, long version, IDecisionContext context)
    {
        FleetSettingsView before = FleetSettings();
        State.FleetSettingsVersion = version;
        FleetSettingsView now = FleetSettings();
        if (now.Settings.Count == before.Settings.Count && !now.Settings.Except(before.Settings).Any())
        {
            return;
        }

        string settings = now.Settings.Count == 0 ? "each silo's configured consensus, block TTL and burst model" : Describe(now.Settings);
        Decide(p, context, "fleet_settings", null, null, $"silo-side settings of version {version} in force on every silo: {settings}");
        context.Record("policy", Grain, $"version {p.Version}: silo-side settings of version {version} in force on every silo: {settings}");
    }

    /// <summary>Ends a rollout (rolled back or aborted): recorded with its reason and figures, and every edge it reached sent the previous version.</summary>
    private void End(PolicyRecord p, string endState, string outcome, string gate, string? nodeId, string detail, IDecisionContext context)
    {
        string stage = StageName(p.Plan.Stages[p.Stage]);
        p.State = endState;
        p.FinishedUnixMs = context.Now.ToUnixTimeMilliseconds();
        State.ActiveVersion = 0;
        State.RevertingVersion = p.Version;
        Decide(p, context, outcome, gate, nodeId, detail);
        if (State.FleetSettingsVersion == p.Version)
        {
            SetFleetSettings(p, p.PreviousVersion, context);
        }

        int reached = p.Edges.Count(e => e.Published);
        context.Record(endState == Aborted ? "policy_abort" : "policy_rollback", Grain,
            $"version {p.Version} {(endState == Aborted ? "aborted" : "rolled back")} at stage {stage}: gate {gate} failed: {detail}; {reached} edge{(reached == 1 ? "" : "s")} return{(reached == 1 ? "s" : "")} to version {p.PreviousVersion}");
        Revert(p, context, onlyUnconfirmed: false);
    }

    private void Revert(PolicyRecord p, IDecisionContext context, bool onlyUnconfirmed)
    {
        PolicyRecord? previous = Find(p.PreviousVersion);
        foreach (PolicyEdge e in p.Edges.Where(e => e.Published && (!onlyUnconfirmed || e.AppliedVersion != p.PreviousVersion)))
        {
            context.EmitControl(e.NodeId, ControlKey.NodePolicy(e.NodeId), Update(p.PreviousVersion, previous?.Settings));
        }
    }

    /// <summary>Takes the applied versions the edges report; true when one changed.</summary>
    private static bool Observe(PolicyRecord p, Dictionary<string, NodeSnapshot> byId, long now)
    {
        bool changed = false;
        foreach (PolicyEdge e in p.Edges)
        {
            if (byId.TryGetValue(e.NodeId, out NodeSnapshot? n) && n.AppliedPolicyVersion != e.AppliedVersion)
            {
                e.AppliedVersion = n.AppliedPolicyVersion;
                if (e.AppliedVersion == p.Version && e.Published)
                {
                    e.AppliedUnixMs = now;
                }

                changed = true;
            }
        }

        return changed;
    }

    private static void Decide(PolicyRecord p, IDecisionContext context, string outcome, string? gate, string? nodeId, string detail)
    {
        p.History.Add(new GateDecision
        {
            UnixMs = context.Now.ToUnixTimeMilliseconds(),
            Stage = p.Stage,
            Outcome = outcome,
            Gate = gate ?? "",
            NodeId = nodeId ?? "",
            Detail = detail,
        });
        while (p.History.Count > MaxHistory)
        {
            p.History.RemoveAt(0);
        }
    }

    /// <summary>The control record of a version for the edges: its edge settings only (the silo-side ones are the silos' business).</summary>
    private static ControlUpdate Update(long version, IEnumerable<KeyValuePair<string, string>>? settings)
    {
        var policy = new PolicyVersion { Version = version };
        if (settings is not null)
        {
            policy.Settings.Add(settings.Where(s => !PolicySettings.IsFleet(s.Key)).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal));
        }

        return new ControlUpdate { Policy = policy };
    }

    private static string Figures(PolicyEdge e, NodeSnapshot? n) => n is null ? $"{e.NodeId}: no report" : string.Create(CultureInfo.InvariantCulture,
        $"{e.NodeId}: drop share {DropShare(n):0.000} (baseline {e.BaselineDropShare:0.000}), lag {n.KafkaLag} (baseline {e.BaselineKafkaLag}), degradation {n.DegradationLevel} (baseline {e.BaselineDegradation})");

    private static string Baseline(PolicyEdge e) => string.Create(CultureInfo.InvariantCulture,
        $"{e.NodeId} drop share {e.BaselineDropShare:0.000}, lag {e.BaselineKafkaLag}, degradation {e.BaselineDegradation}");

    private static IReadOnlyList<string> StageNames(PolicyRecord p) => [.. p.Plan.Stages.Select(StageName)];

    private static string StageName(int stage) => stage == RolloutRequest.Canary ? "canary" : stage.ToString(CultureInfo.InvariantCulture) + "%";

    private static string Describe(IEnumerable<KeyValuePair<string, string>> settings) => string.Join(", ", settings.Select(s => s.Key + "=" + s.Value));

    private static DateTimeOffset? At(long unixMs) => unixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
}
