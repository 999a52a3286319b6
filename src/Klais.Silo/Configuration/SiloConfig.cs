using System.Globalization;
using System.Net;
using Klais.Contracts.Configuration;
using Klais.Grains;
using Klais.Grains.Runtime;
using Microsoft.Extensions.Logging;

namespace Klais.Silo.Configuration;

/// <summary>klais-silo's settings after validation.</summary>
internal sealed record SiloConfig(
    string? KafkaBootstrap, IPEndPoint ApiBind, string? AdvertisedUrl, int Partitions, LogLevel LogLevel, SiloRuntimeOptions Runtime);

/// <summary>A config, a request for help, or every problem found.</summary>
internal sealed record SiloConfigResult(SiloConfig? Config, IReadOnlyList<string> Errors, bool HelpRequested);

/// <summary>
/// Reads the settings from flags (win) and the environment, and reports every bad value at once, each naming the
/// setting, its value, where it came from and the rule ("KLAIS_CONSENSUS_QUORUM is "0" (from the environment). It
/// must be a whole number from 1 to 100.") — the same form as klais-edge.
/// </summary>
internal static class SiloConfigLoader
{

    public static SiloConfigResult Load(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        var errors = new List<string>();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is "-h" or "--help" or "-?")
            {
                return new SiloConfigResult(null, [], true);
            }

            string[] parts = args[i].Split('=', 2);
            Setting? setting = SiloSettings.All.FirstOrDefault(s => s.Flag == parts[0]);
            string? value = parts.Length == 2 ? parts[1] : i + 1 < args.Count ? args[++i] : null;
            if (setting is null || value is null)
            {
                errors.Add(setting is null ? $"\"{parts[0]}\" is not a flag of klais-silo; see --help." : $"Flag {parts[0]} needs a value.");
                continue;
            }

            flags[setting.EnvName] = value;
        }

        var r = new SettingReader(s => flags.TryGetValue(s.EnvName, out string? f) ? (f, "from " + s.Flag)
            : environment(s.EnvName) is { } e ? (e, "from the environment") : (s.Default, "the default"));

        string bootstrap = r.Text(SiloSettings.KafkaBootstrap).Trim();
        string siloId = r.Matching(SiloSettings.SiloId, v => v.Trim().Length == 0 || IsSiloId(v.Trim()), "It must be 1 to 64 of a-z A-Z 0-9 . _ -.").Trim();
        string advertised = r.Matching(SiloSettings.AdvertisedUrl,
            v => v.Trim().Length == 0 || Uri.TryCreate(v.Trim(), UriKind.Absolute, out Uri? u) && u.Scheme is "http" or "https",
            "It must be an absolute http:// or https:// URL.").Trim();
        IPEndPoint bind = r.EndPoint(SiloSettings.ApiBind);
        long session = r.WholeNumber(SiloSettings.SessionTimeoutMs, 1000, 300_000);
        long heartbeat = r.WholeNumber(SiloSettings.HeartbeatMs, 100, 60_000);
        if (heartbeat >= session && errors.Count == 0 && r.Errors.Count == 0)
        {
            r.Fail(SiloSettings.HeartbeatMs, heartbeat.ToString(CultureInfo.InvariantCulture),
                $"It must be less than {SiloSettings.SessionTimeoutMs.EnvName} ({session.ToString(CultureInfo.InvariantCulture)}).");
        }

        var runtime = new SiloRuntimeOptions
        {
            SiloId = siloId.Length == 0 ? SanitizedHostName() : siloId,
            BootstrapServers = bootstrap,
            SessionTimeout = TimeSpan.FromMilliseconds(session),
            HeartbeatInterval = TimeSpan.FromMilliseconds(heartbeat),
            StaticMembership = r.Boolean(SiloSettings.StaticMembership),
            CheckpointInterval = TimeSpan.FromMilliseconds(r.WholeNumber(SiloSettings.CheckpointMs, 10, 60_000)),
            IdleEviction = TimeSpan.FromSeconds(r.WholeNumber(SiloSettings.IdleEvictionSeconds, 1, 86_400)),
            AnnounceInterval = TimeSpan.FromMilliseconds(r.WholeNumber(SiloSettings.AnnounceMs, 100, 60_000)),
            Consensus = new ConsensusOptions
            {
                Quorum = (int)r.WholeNumber(SiloSettings.Quorum, 1, 100),
                VoteWindow = TimeSpan.FromSeconds(r.WholeNumber(SiloSettings.WindowSeconds, 1, 86_400)),
                BlockTtl = TimeSpan.FromSeconds(r.WholeNumber(SiloSettings.BlockTtlSeconds, 1, 604_800)),
                AnomalyZ = r.Number(SiloSettings.AnomalyZ, 0, 1000),
                FloodEdges = (int)r.WholeNumber(SiloSettings.FloodEdges, 1, 100),
                FloodRate = r.Number(SiloSettings.FloodRate, 0, 1e9),
                SourceThreshold = (int)r.WholeNumber(SiloSettings.SourceThreshold, 2, 32),
            },
            Controller = new ControllerOptions
            {
                Interval = TimeSpan.FromMilliseconds(r.WholeNumber(SiloSettings.ControlIntervalMs, 100, 60_000)),
                TargetLag = r.Number(SiloSettings.TargetLag, 0, 1e9),
                TargetCpu = r.Number(SiloSettings.TargetCpu, 0, 1),
                Kp = r.Number(SiloSettings.Kp, -1e-12, 100),
                Ki = r.Number(SiloSettings.Ki, -1e-12, 100),
                Kd = r.Number(SiloSettings.Kd, -1e-12, 100),
            },
        };
        int partitions = (int)r.WholeNumber(SiloSettings.Partitions, 1, 1000);
        LogLevel level = (LogLevel)r.OneOf(SiloSettings.LogLevel, LogLevelNames.Levels);
        errors.AddRange(r.Errors);
        if (errors.Count > 0)
        {
            return new SiloConfigResult(null, errors, false);
        }

        return new SiloConfigResult(
            new SiloConfig(bootstrap.Length == 0 ? null : bootstrap, bind, advertised.Length == 0 ? null : advertised.TrimEnd('/'), partitions, level, runtime),
            [], false);
    }

    public static string HelpText() =>
        "klais-silo: hosts KLAIS grains (device, node, swarm) on a Kafka-backed cluster and serves the grain API.\n\n"
        + "Every setting is an environment variable or the flag shown (flags win). Bad values are all reported at start-up (exit code 2).\n\n"
        + string.Join('\n', SiloSettings.All.Select(s =>
            $"  {s.EnvName,-34} {s.Flag,-30} default {(s.Default.Length == 0 ? "(unset)" : s.Default)}\n      {s.Description}"));

    private static bool IsSiloId(string id) =>
        id.Length is >= 1 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string SanitizedHostName()
    {
        string name = new(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray());
        return name.Length is >= 1 and <= 64 ? name : "silo";
    }
}
