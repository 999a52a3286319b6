using Klais.Contracts.Configuration;
using Klais.Edge.Configuration;

namespace Klais.Edge.Control;

/// <summary>
/// The fleet policy in force on this edge: its version (0: none, the configured settings) and the value of every
/// policy setting, taken from the policy where it names the setting and from the edge's configuration otherwise.
/// Immutable: the applier swaps the whole object, so readers never see half of one policy.
/// </summary>
internal sealed record EdgePolicy(long Version, double DamMaxRate, long DamBurstSize, double SuspectRate, int SuspectSources,
    double HeavyHitterShare, TimeSpan ReportInterval, long AppliedUnixMs)
{
    /// <summary>The configured settings, in force before any policy and after a rollback to version 0.</summary>
    public static EdgePolicy Configured(EdgeConfig config, long appliedUnixMs = 0) => new(0, config.DamMaxRate, config.DamBurstSize,
        config.SuspectRate, config.SuspectSources, config.HeavyHitterShare, config.ReportInterval, appliedUnixMs);

    /// <summary>
    /// Reads policy <paramref name="version"/> over <paramref name="config"/> with the bounds the configuration
    /// enforces (<see cref="PolicySettings"/>) and the Dam's own rule for rate and bucket; null and every problem when
    /// any setting cannot be applied: then nothing of it is.
    /// </summary>
    public static EdgePolicy? TryRead(long version, IReadOnlyDictionary<string, string> settings, EdgeConfig config, long nowUnixMs, out IReadOnlyList<string> problems)
    {
        var errors = new List<string>(PolicySettings.Validate(settings));
        if (errors.Count > 0)
        {
            problems = errors;
            return null;
        }

        EdgePolicy configured = Configured(config);
        var read = new SettingReader(s =>
        {
            PolicySetting p = PolicySettings.All.First(x => x.Setting == s);
            return settings.TryGetValue(p.Name, out string? v) ? (v, "settings." + p.Name) : (ConfiguredText(configured, p), "the configuration");
        });
        var policy = new EdgePolicy(version,
            PolicySettings.DamMaxRate.Read(read),
            (long)PolicySettings.DamBurstSize.Read(read),
            PolicySettings.SuspectRate.Read(read),
            (int)PolicySettings.SuspectSources.Read(read),
            PolicySettings.HeavyHitterShare.Read(read),
            TimeSpan.FromMilliseconds(PolicySettings.ReportIntervalMs.Read(read)),
            nowUnixMs);
        errors.AddRange(read.Errors);
        errors.AddRange(Dam.DamOptions.ValidateRate(policy.DamMaxRate, policy.DamBurstSize));
        problems = errors;
        return errors.Count == 0 ? policy : null;
    }

    /// <summary>Each policy setting's value in force, by its policy name, as text.</summary>
    public IEnumerable<(string Name, string Value)> Settings()
    {
        foreach (PolicySetting p in PolicySettings.All)
        {
            yield return (p.Name, ConfiguredText(this, p));
        }
    }

    private static string ConfiguredText(EdgePolicy policy, PolicySetting p) => p switch
    {
        _ when p == PolicySettings.DamMaxRate => PolicySettings.Format(policy.DamMaxRate),
        _ when p == PolicySettings.DamBurstSize => PolicySettings.Format(policy.DamBurstSize),
        _ when p == PolicySettings.SuspectRate => PolicySettings.Format(policy.SuspectRate),
        _ when p == PolicySettings.SuspectSources => PolicySettings.Format(policy.SuspectSources),
        _ when p == PolicySettings.HeavyHitterShare => PolicySettings.Format(policy.HeavyHitterShare),
        _ when p == PolicySettings.ReportIntervalMs => PolicySettings.Format(policy.ReportInterval.TotalMilliseconds),
        _ => throw new ArgumentOutOfRangeException(nameof(p), p.Name, "not a policy setting"),
    };
}
