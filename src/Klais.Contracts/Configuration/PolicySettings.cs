using System.Globalization;

namespace Klais.Contracts.Configuration;

/// <summary>
/// One edge setting a fleet policy may carry: the edge's <see cref="Setting"/> and the bounds its value must meet.
/// The edge reads its configuration through <see cref="Read"/> and the control plane validates policies with the
/// same call, so a bound is written once. <see cref="Name"/> is the environment name without <c>KLAIS_</c>, lower case.
/// </summary>
public sealed record PolicySetting(Setting Setting, bool Whole, double Min, double Max)
{
    /// <summary><c>KLAIS_DAM_MAX_RATE</c> is <c>dam_max_rate</c>.</summary>
    public string Name { get; } = Setting.EnvName["KLAIS_".Length..].ToLowerInvariant();

    /// <summary>The value as <paramref name="read"/> finds it: a whole number in [Min, Max], or a number in (Min, Max].</summary>
    public double Read(SettingReader read) =>
        Whole ? read.WholeNumber(Setting, (long)Min, (long)Max) : read.Number(Setting, Min, Max);
}

/// <summary>
/// The settings a fleet policy may set, with their bounds. <see cref="All"/> are edge settings: the Dam's rate and
/// bucket, the suspicion thresholds, the heavy-hitter share and the node report interval; the edges apply them.
/// <see cref="Fleet"/> (consensus quorum and window, block TTL) and <see cref="BurstModelVersion"/> configure the
/// silos' grains: every silo takes them from the policy grain when the rollout reaches its last stage. Everything else
/// an edge or a silo is configured with stays its own.
/// </summary>
public static class PolicySettings
{
    /// <summary>The policy setting naming the burst model the silos run, by its version (<c>sha256:</c> and 12 hex digits of the file).</summary>
    public const string BurstModelVersion = "burst_model_version";

    /// <summary>What the distinct-source estimate of an edge reads at most (64 bits × ln 64): the upper bound of <see cref="SuspectSources"/>.</summary>
    public const int MaxDistinctEstimate = 266;

    public static readonly PolicySetting DamMaxRate = new(
        new("KLAIS_DAM_MAX_RATE", "10000", "Dam token refill rate, datagrams per second."), false, 0, 100_000_000);

    public static readonly PolicySetting DamBurstSize = new(
        new("KLAIS_DAM_BURST_SIZE", "50000", "Dam bucket size: datagrams that may pass at once after a quiet spell."), true, 1, 1_000_000_000);

    public static readonly PolicySetting ReportIntervalMs = new(
        new("KLAIS_REPORT_INTERVAL_MS", "1000", "Node report interval (klais.reports)."), true, 100, 60_000);

    public static readonly PolicySetting HeavyHitterShare = new(
        new("KLAIS_HEAVY_HITTER_SHARE", "0.05", "Share of this edge's admitted datagrams in a report window (0 to 1) that makes one device a heavy hitter, reported at once (from 64 datagrams in the window on)."),
        false, 0, 1);

    public static readonly PolicySetting SuspectSources = new(
        new("KLAIS_SUSPECT_SOURCES", "16", "Distinct source addresses of one device id in a report window at which this edge suspects it and votes at once (reason \"sources\"; estimated, exact enough up to a few dozen)."),
        true, 2, MaxDistinctEstimate);

    public static readonly PolicySetting SuspectRate = new(
        new("KLAIS_SUSPECT_RATE", "5000", "Datagrams/s of one device at which this edge suspects it and votes at once (reason \"rate\")."), false, 0, 100_000_000);

    public static readonly PolicySetting ConsensusQuorum = new(
        new("KLAIS_CONSENSUS_QUORUM", "2", "Distinct edges whose votes within the window block a device."), true, 1, 100);

    public static readonly PolicySetting ConsensusWindowSeconds = new(
        new("KLAIS_CONSENSUS_WINDOW_SECONDS", "30", "The consensus window."), true, 1, 86_400);

    public static readonly PolicySetting BlockTtlSeconds = new(
        new("KLAIS_BLOCK_TTL_SECONDS", "600", "How long a consensus or fleet-view block lasts."), true, 1, 604_800);

    /// <summary>The edge settings a policy may set: the edges apply them, stage by stage.</summary>
    public static IReadOnlyList<PolicySetting> All { get; } = [DamMaxRate, DamBurstSize, SuspectRate, SuspectSources, HeavyHitterShare, ReportIntervalMs];

    /// <summary>The silo settings a policy may set (besides <see cref="BurstModelVersion"/>): in force on every silo from the rollout's last stage on.</summary>
    public static IReadOnlyList<PolicySetting> Fleet { get; } = [ConsensusQuorum, ConsensusWindowSeconds, BlockTtlSeconds];

    /// <summary>Every name a policy may hold.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(s => s.Name), .. Fleet.Select(s => s.Name), BurstModelVersion];

    /// <summary>The edge setting called <paramref name="name"/> in a policy, or null.</summary>
    public static PolicySetting? Find(string name) => All.FirstOrDefault(s => s.Name == name);

    /// <summary>True for the settings the silos apply (<see cref="Fleet"/> and <see cref="BurstModelVersion"/>), false for the edges' own.</summary>
    public static bool IsFleet(string name) => name == BurstModelVersion || Fleet.Any(s => s.Name == name);

    /// <summary>Whether <paramref name="version"/> reads like a burst model's version: <c>sha256:</c> and 12 lower-case hex digits.</summary>
    public static bool IsModelVersion(string version) =>
        version.Length == 19 && version.StartsWith("sha256:", StringComparison.Ordinal) && version[7..].All(char.IsAsciiHexDigitLower);

    /// <summary>
    /// Every problem of a policy's settings (values as text, the way an environment variable holds them), each naming
    /// the setting: unknown names, and values outside the bounds the edge's configuration enforces. Empty when none.
    /// </summary>
    public static IReadOnlyList<string> Validate(IReadOnlyDictionary<string, string> settings)
    {
        var errors = new List<string>();
        foreach (string name in settings.Keys.Where(n => !Names.Contains(n)).Order(StringComparer.Ordinal))
        {
            errors.Add($"settings.{name} is not a policy setting; a policy may set {string.Join(", ", Names)}.");
        }

        var read = new SettingReader(s => (settings.TryGetValue(Name(s), out string? v) ? v : s.Default, "settings." + Name(s)));
        foreach (PolicySetting s in All.Concat(Fleet).Where(s => settings.ContainsKey(s.Name)))
        {
            s.Read(read);
        }

        errors.AddRange(read.Errors);
        if (settings.TryGetValue(BurstModelVersion, out string? model) && !IsModelVersion(model))
        {
            errors.Add($"settings.{BurstModelVersion} is \"{model}\"; it must be a burst model's version as /api/swarm shows it: sha256: and 12 lower-case hex digits.");
        }

        return errors;
    }

    /// <summary>A number as a policy holds it: invariant text that round-trips.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Name(Setting s) => s.EnvName["KLAIS_".Length..].ToLowerInvariant();
}
