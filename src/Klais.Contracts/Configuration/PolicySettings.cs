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
/// The edge settings a fleet policy may set, with their bounds: the Dam's rate and bucket, the suspicion thresholds,
/// the heavy-hitter share and the node report interval. Everything else an edge is configured with stays per edge.
/// </summary>
public static class PolicySettings
{
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

    public static IReadOnlyList<PolicySetting> All { get; } = [DamMaxRate, DamBurstSize, SuspectRate, SuspectSources, HeavyHitterShare, ReportIntervalMs];

    /// <summary>The setting called <paramref name="name"/> in a policy, or null.</summary>
    public static PolicySetting? Find(string name) => All.FirstOrDefault(s => s.Name == name);

    /// <summary>
    /// Every problem of a policy's settings (values as text, the way an environment variable holds them), each naming
    /// the setting: unknown names, and values outside the bounds the edge's configuration enforces. Empty when none.
    /// </summary>
    public static IReadOnlyList<string> Validate(IReadOnlyDictionary<string, string> settings)
    {
        var errors = new List<string>();
        foreach (string name in settings.Keys.Where(n => Find(n) is null).Order(StringComparer.Ordinal))
        {
            errors.Add($"settings.{name} is not a policy setting; a policy may set {string.Join(", ", All.Select(s => s.Name))}.");
        }

        var read = new SettingReader(s => (settings.TryGetValue(Name(s), out string? v) ? v : s.Default, "settings." + Name(s)));
        foreach (PolicySetting s in All.Where(s => settings.ContainsKey(s.Name)))
        {
            s.Read(read);
        }

        errors.AddRange(read.Errors);
        return errors;
    }

    /// <summary>A number as a policy holds it: invariant text that round-trips.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Name(Setting s) => s.EnvName["KLAIS_".Length..].ToLowerInvariant();
}
