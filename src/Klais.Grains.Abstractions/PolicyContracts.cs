using Orleans.Concurrency;

namespace Klais.Grains;

/// <summary>
/// PolicyGrain("fleet"): versioned edge policies and their staged, health-gated rollout. A policy is created as a
/// draft (its settings validated, then never changed); a rollout sends it to a canary edge, then to shares of the
/// fleet, each stage baking while the edges already updated are checked against their baseline; a failed gate rolls
/// every updated edge back by itself. One rollout at a time; its state is durable and a reminder resumes it on
/// another silo when the one hosting it fails.
/// </summary>
[Alias("klais.IPolicyGrain")]
public interface IPolicyGrain : IGrainWithStringKey
{
    /// <summary>A new draft version; <see cref="PolicyResult.Status"/> Invalid with every problem when a setting is bad.</summary>
    [Alias("create")]
    Task<PolicyResult> Create(PolicyDraft draft);

    /// <summary>Starts rolling a draft out: NotFound, Invalid (the plan), Conflict (not a draft, another rollout active, no edge reporting).</summary>
    [Alias("rollout")]
    Task<PolicyResult> Rollout(long version, RolloutRequest plan);

    [Alias("pause")]
    Task<PolicyResult> Pause(long version);

    /// <summary>Resumes a paused rollout; the stage's bake starts over.</summary>
    [Alias("resume")]
    Task<PolicyResult> ResumeRollout(long version);

    /// <summary>Stops a rolling or paused rollout and returns its edges to the previous version.</summary>
    [Alias("abort")]
    Task<PolicyResult> Abort(long version);

    [Alias("list"), AlwaysInterleave]
    Task<IReadOnlyList<PolicyView>> List();

    [Alias("describe"), AlwaysInterleave]
    Task<PolicyView?> Describe(long version);

    /// <summary>The silo-side settings in force fleet-wide and the version they come from; every silo asks for them every few seconds.</summary>
    [Alias("fleet-settings"), AlwaysInterleave]
    Task<FleetSettingsView> FleetSettings();
}

/// <summary>
/// The silo-side settings of a policy (consensus quorum and window, block TTL, burst model version) in force on every
/// silo: those of <see cref="Version"/> (0: each silo's configuration), by their policy names; a setting the version
/// does not name is the silo's configured one.
/// </summary>
[GenerateSerializer, Immutable, Alias("klais.FleetSettingsView")]
public sealed record FleetSettingsView(
    [property: Id(0)] long Version,
    [property: Id(1)] IReadOnlyDictionary<string, string> Settings);

/// <summary>How a policy call ended, as the API maps it: Ok 200/201, Invalid 400, NotFound 404, Conflict 409.</summary>
public enum PolicyStatus
{
    Ok,
    Invalid,
    NotFound,
    Conflict,
}

[GenerateSerializer, Immutable, Alias("klais.PolicyResult")]
public sealed record PolicyResult(
    [property: Id(0)] PolicyStatus Status,
    [property: Id(1)] long Version,
    [property: Id(2)] IReadOnlyList<string> Problems,
    [property: Id(3)] PolicyView? Policy)
{
    public static PolicyResult Refused(PolicyStatus status, long version, params string[] problems) => new(status, version, problems, null);
}

/// <summary>A new policy: setting names as in <c>PolicySettings</c> (<c>dam_max_rate</c>) to their values as text.</summary>
[GenerateSerializer, Immutable, Alias("klais.PolicyDraft")]
public sealed record PolicyDraft(
    [property: Id(0)] Dictionary<string, string> Settings,
    [property: Id(1)] string Description);

/// <summary>
/// A rollout plan. Stages: 0 is the canary (one edge), 1..100 a share of the edges in percent, increasing, the last
/// 100. Each stage bakes <see cref="BakeSeconds"/> once all its edges applied the policy, and fails when an updated
/// edge's degradation level, drop share or Kafka lag rose above its baseline by more than allowed, or its reports
/// are older than <see cref="MaxReportAgeSeconds"/>; a stage whose edges do not all apply it within
/// <see cref="AckTimeoutSeconds"/> fails too.
/// </summary>
[GenerateSerializer, Immutable, Alias("klais.RolloutRequest")]
public sealed record RolloutRequest
{
    public const int Canary = 0;

    [Id(0)] public IReadOnlyList<int> Stages { get; init; } = [Canary, 50, 100];

    [Id(1)] public int BakeSeconds { get; init; } = 60;

    [Id(2)] public double MaxDropShareIncrease { get; init; } = 0.2;

    [Id(3)] public int MaxDegradationIncrease { get; init; }

    [Id(4)] public long MaxKafkaLagIncrease { get; init; } = 50_000;

    [Id(5)] public int MaxReportAgeSeconds { get; init; } = 30;

    [Id(6)] public int AckTimeoutSeconds { get; init; } = 60;

    /// <summary>Every problem of the plan, each naming its field; empty when it is a plan.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Stages.Count == 0)
        {
            problems.Add("stages must name at least one stage, the last 100 (\"all\").");
        }

        int highest = 0;
        for (int i = 0; i < Stages.Count; i++)
        {
            int s = Stages[i];
            if (s == Canary && i > 0)
            {
                problems.Add($"stages[{i}] is \"canary\"; the canary can only be the first stage.");
            }
            else if (s is < 0 or > 100)
            {
                problems.Add($"stages[{i}] is {s}; a stage is \"canary\" or a percentage from 1 to 100.");
            }
            else if (s != Canary && s <= highest)
            {
                problems.Add($"stages[{i}] is {s}; percentages must increase from stage to stage.");
            }

            highest = Math.Max(highest, s);
        }

        if (Stages.Count > 0 && Stages[^1] != 100)
        {
            problems.Add("stages must end with 100 (\"all\"): a rollout completes on every edge.");
        }

        Check(problems, BakeSeconds is >= 0 and <= 86_400, $"bake_seconds is {BakeSeconds}; it must be from 0 to 86400.");
        Check(problems, MaxDropShareIncrease is >= 0 and <= 1, $"max_drop_share_increase is {MaxDropShareIncrease}; it must be from 0 to 1.");
        Check(problems, MaxDegradationIncrease is >= 0 and <= 3, $"max_degradation_increase is {MaxDegradationIncrease}; it must be from 0 to 3.");
        Check(problems, MaxKafkaLagIncrease is >= 0 and <= 1_000_000_000, $"max_kafka_lag_increase is {MaxKafkaLagIncrease}; it must be from 0 to 1000000000.");
        Check(problems, MaxReportAgeSeconds is >= 1 and <= 3600, $"max_report_age_seconds is {MaxReportAgeSeconds}; it must be from 1 to 3600.");
        Check(problems, AckTimeoutSeconds is >= 1 and <= 3600, $"ack_timeout_seconds is {AckTimeoutSeconds}; it must be from 1 to 3600.");
        return problems;
    }

    private static void Check(List<string> problems, bool ok, string problem)
    {
        if (!ok)
        {
            problems.Add(problem);
        }
    }
}

/// <summary>A policy version as the API shows it. <see cref="State"/>: draft, rolling, paused, complete, rolled_back, aborted.</summary>
[GenerateSerializer, Immutable, Alias("klais.PolicyView")]
public sealed record PolicyView
{
    [Id(0)] public required long Version { get; init; }

    [Id(1)] public required string Description { get; init; }

    [Id(2)] public required Dictionary<string, string> Settings { get; init; }

    [Id(3)] public required string State { get; init; }

    /// <summary>Index of the stage rolling (or where the rollout ended) in <see cref="Stages"/>; -1 for a draft.</summary>
    [Id(4)] public int Stage { get; init; }

    /// <summary>"canary", "50%", "100%".</summary>
    [Id(5)] public IReadOnlyList<string> Stages { get; init; } = [];

    [Id(6)] public int BakeSeconds { get; init; }

    [Id(7)] public long PreviousVersion { get; init; }

    [Id(8)] public DateTimeOffset Created { get; init; }

    [Id(9)] public DateTimeOffset? StageStarted { get; init; }

    [Id(10)] public DateTimeOffset? BakeStarted { get; init; }

    [Id(11)] public DateTimeOffset? Finished { get; init; }

    [Id(12)] public Dictionary<string, PolicyEdgeView> Edges { get; init; } = [];

    [Id(13)] public IReadOnlyList<GateDecisionView> History { get; init; } = [];

    /// <summary>The rollout's gate thresholds and ack timeout, by their request names; empty for a draft.</summary>
    [Id(14)] public Dictionary<string, double> Gates { get; init; } = [];

    /// <summary>The version in force fleet-wide (the last rollout completed; 0: configured settings).</summary>
    [Id(15)] public long FleetVersion { get; init; }

    [Id(16)] public required string OwnerSilo { get; init; }

    /// <summary>The version whose silo-side settings are in force on every silo (0: their configuration); a rollout puts its own in force at its last stage.</summary>
    [Id(17)] public long FleetSettingsVersion { get; init; }
}

/// <summary>One edge of a rollout: the policy version it reports in force, and whether it passed the gates so far.</summary>
[GenerateSerializer, Immutable, Alias("klais.PolicyEdgeView")]
public sealed record PolicyEdgeView(
    [property: Id(0)] long AppliedVersion,
    [property: Id(1)] bool Healthy,
    [property: Id(2)] string Stage,
    [property: Id(3)] bool Targeted,
    [property: Id(4)] DateTimeOffset? AppliedAt,
    [property: Id(5)] string? Problem);

/// <summary>A decision of a rollout with its figures: stage started, applied, passed, failed; paused, resumed, aborted, complete.</summary>
[GenerateSerializer, Immutable, Alias("klais.GateDecisionView")]
public sealed record GateDecisionView(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Stage,
    [property: Id(2)] string Outcome,
    [property: Id(3)] string? Gate,
    [property: Id(4)] string? NodeId,
    [property: Id(5)] string Detail);
