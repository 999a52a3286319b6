using Klais.Contracts.Security;
using System.Globalization;
using System.Net;
using Klais.Contracts.Configuration;
using Klais.Grains;
using Microsoft.Extensions.Logging;

namespace Klais.Silo.Configuration;

/// <summary>klais-silo's settings after validation. A null <see cref="Redis"/> is development mode.</summary>
internal sealed record SiloConfig
{
    public required string SiloId { get; init; }

    public string? Redis { get; init; }

    public string? KafkaBootstrap { get; init; }

    public string ClusterId { get; init; } = "klais";

    public string ServiceId { get; init; } = "klais";

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    public IPEndPoint ApiBind { get; init; } = new(IPAddress.Loopback, 8081);

    public string? AdvertisedUrl { get; init; }

    public MembershipTimings Membership { get; init; } = new();

    public IngestionOptions Ingestion { get; init; } = new();

    public TimeSpan IdleEviction { get; init; } = TimeSpan.FromMinutes(5);

    public int Partitions { get; init; } = 12;

    public ConsensusOptions Consensus { get; init; } = new();

    public ControllerOptions Controller { get; init; } = new();

    public BurstModelOptions BurstModel { get; init; } = new();

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Who may call the API and with what role; open without <c>KLAIS_API_TOKENS_FILE</c>.</summary>
    public ApiTokens ApiTokens { get; init; } = ApiTokens.Open;

    /// <summary>HTTPS for the API (<c>KLAIS_API_TLS_CERT</c>); null for plain HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ApiCertificate { get; init; }

    public bool DevelopmentMode => Redis is null;
}

/// <summary>How fast silos declare a silent one dead (kill -9, or hung with its sockets open).</summary>
internal sealed record MembershipTimings
{
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    public int MissedProbes { get; init; } = 3;

    public int DeathVotes { get; init; } = 2;
}

/// <summary>The hosted Kafka consumer of klais.reports.</summary>
internal sealed record IngestionOptions
{
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(6);

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(1500);

    public bool StaticMembership { get; init; }

    public int MaxBatch { get; init; } = 200_000;

    /// <summary>
    /// Most distinct device keys in one batch. A batch is one call and one state write per device, awaited together
    /// under <c>ReportIngestor.CallTimeout</c>; records alone do not bound that when every report is a different device.
    /// </summary>
    public int MaxBatchDevices { get; init; } = 20_000;

    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Batches consumed but not yet durable before ingestion stops consuming and only retries their writes: at a batch
    /// every 200 ms, over three minutes of a store outage. A batch whose calls returned holds one flush per grain.
    /// </summary>
    public int MaxPendingBatches { get; init; } = 1000;
}

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

        string redis = r.Matching(SiloSettings.Redis, v => v.Trim().Length == 0 || IsRedisConfiguration(v.Trim()),
            "It must be a StackExchange.Redis configuration string such as 127.0.0.1:6379 or host:port,password=secret.").Trim();
        string bootstrap = r.Text(SiloSettings.KafkaBootstrap).Trim();
        string siloId = r.Matching(SiloSettings.SiloId, v => v.Trim().Length == 0 || IsName(v.Trim()), "It must be 1 to 64 of a-z A-Z 0-9 . _ -.").Trim();
        string clusterId = r.Matching(SiloSettings.ClusterId, v => IsName(v.Trim()), "It must be 1 to 64 of a-z A-Z 0-9 . _ -.").Trim();
        string serviceId = r.Matching(SiloSettings.ServiceId, v => IsName(v.Trim()), "It must be 1 to 64 of a-z A-Z 0-9 . _ -.").Trim();
        int siloPort = (int)r.WholeNumber(SiloSettings.SiloPort, 0, 65535);
        int gatewayPort = (int)r.WholeNumber(SiloSettings.GatewayPort, 0, 65535);
        if (siloPort != 0 && siloPort == gatewayPort)
        {
            r.Fail(SiloSettings.GatewayPort, gatewayPort.ToString(CultureInfo.InvariantCulture), $"It must differ from {SiloSettings.SiloPort.EnvName}.");
        }

        string advertisedAddress = r.Matching(SiloSettings.AdvertisedAddress, v => IPAddress.TryParse(v.Trim(), out _), "It must be an IP address such as 127.0.0.1 or 10.0.0.5.").Trim();
        string advertised = r.Matching(SiloSettings.AdvertisedUrl,
            v => v.Trim().Length == 0 || Uri.TryCreate(v.Trim(), UriKind.Absolute, out Uri? u) && u.Scheme is "http" or "https",
            "It must be an absolute http:// or https:// URL.").Trim();
        IPEndPoint bind = r.EndPoint(SiloSettings.ApiBind);
        long probeMs = r.WholeNumber(SiloSettings.ProbeTimeoutMs, 100, 60_000);
        int missed = (int)r.WholeNumber(SiloSettings.MissedProbes, 1, 10);
        int votes = (int)r.WholeNumber(SiloSettings.DeathVotes, 1, 10);
        long session = r.WholeNumber(SiloSettings.SessionTimeoutMs, 1000, 300_000);
        long heartbeat = r.WholeNumber(SiloSettings.HeartbeatMs, 100, 60_000);
        if (heartbeat >= session && errors.Count == 0 && r.Errors.Count == 0)
        {
            r.Fail(SiloSettings.HeartbeatMs, heartbeat.ToString(CultureInfo.InvariantCulture),
                $"It must be less than {SiloSettings.SessionTimeoutMs.EnvName} ({session.ToString(CultureInfo.InvariantCulture)}).");
        }

        double outlierThreshold = r.Number(SiloSettings.OutlierThreshold, -1e-12, 1);
        if (outlierThreshold is > 0 and < 0.5)
        {
            r.Fail(SiloSettings.OutlierThreshold, outlierThreshold.ToString(CultureInfo.InvariantCulture),
                "It must be 0 (the outlier model off) or from 0.5 to 1: an isolation-forest score below 0.5 is an ordinary device.");
        }

        string burstModel = r.Matching(SiloSettings.BurstModel, v => v.Trim().Length == 0 || IsFilePath(v.Trim()),
            "It must be the path of an ONNX file (not a directory), or unset for the shipped model.").Trim();
        var config = new SiloConfig
        {
            SiloId = siloId.Length == 0 ? SanitizedHostName() : siloId,
            Redis = redis.Length == 0 ? null : redis,
            KafkaBootstrap = bootstrap.Length == 0 ? null : bootstrap,
            ClusterId = clusterId,
            ServiceId = serviceId,
            SiloPort = siloPort,
            GatewayPort = gatewayPort,
            AdvertisedAddress = IPAddress.TryParse(advertisedAddress, out IPAddress? ip) ? ip : IPAddress.Loopback,
            ApiBind = bind,
            AdvertisedUrl = advertised.Length == 0 ? null : advertised.TrimEnd('/'),
            Membership = new MembershipTimings { ProbeTimeout = TimeSpan.FromMilliseconds(probeMs), MissedProbes = missed, DeathVotes = votes },
            Ingestion = new IngestionOptions
            {
                SessionTimeout = TimeSpan.FromMilliseconds(session),
                HeartbeatInterval = TimeSpan.FromMilliseconds(heartbeat),
                StaticMembership = r.Boolean(SiloSettings.StaticMembership),
                MaxBatch = (int)r.WholeNumber(SiloSettings.IngestBatch, 1, 1_000_000),
                MaxBatchDevices = (int)r.WholeNumber(SiloSettings.IngestDevices, 1, 1_000_000),
                MaxWait = TimeSpan.FromMilliseconds(r.WholeNumber(SiloSettings.IngestWaitMs, 1, 60_000)),
            },
            IdleEviction = TimeSpan.FromSeconds(r.WholeNumber(SiloSettings.IdleEvictionSeconds, 60, 86_400)),
            Partitions = (int)r.WholeNumber(SiloSettings.Partitions, 1, 1000),
            Consensus = new ConsensusOptions
            {
                Quorum = (int)PolicySettings.ConsensusQuorum.Read(r),
                VoteWindow = TimeSpan.FromSeconds(PolicySettings.ConsensusWindowSeconds.Read(r)),
                BlockTtl = TimeSpan.FromSeconds(PolicySettings.BlockTtlSeconds.Read(r)),
                AnomalyZ = r.Number(SiloSettings.AnomalyZ, 0, 1000),
                FloodEdges = (int)r.WholeNumber(SiloSettings.FloodEdges, 1, 100),
                FloodRate = r.Number(SiloSettings.FloodRate, 0, 1e9),
                SourceThreshold = (int)r.WholeNumber(SiloSettings.SourceThreshold, 2, 32),
                OutlierThreshold = outlierThreshold,
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
            BurstModel = new BurstModelOptions { Path = burstModel.Length == 0 ? BurstModelOptions.ShippedModel : Path.GetFullPath(burstModel) },
            LogLevel = (LogLevel)r.OneOf(SiloSettings.LogLevel, LogLevelNames.Levels),
            ApiTokens = ApiTokens.Read(r),
            ApiCertificate = ApiTls.Read(r),
        };
        errors.AddRange(r.Errors);
        return errors.Count > 0 ? new SiloConfigResult(null, errors, false) : new SiloConfigResult(config, [], false);
    }

    public static string HelpText() =>
        "klais-silo: an Orleans silo hosting KLAIS grains (device, node, swarm), ingesting klais.reports and serving the grain API and dashboards.\n\n"
        + "Every setting is an environment variable or the flag shown (flags win). Bad values are all reported at start-up (exit code 2).\n\n"
        + string.Join('\n', SiloSettings.All.Select(s =>
            $"  {s.EnvName,-34} {s.Flag,-30} default {(s.Default.Length == 0 ? "(unset)" : s.Default)}\n      {s.Description}"));

    private static bool IsRedisConfiguration(string value)
    {
        try
        {
            return StackExchange.Redis.ConfigurationOptions.Parse(value).EndPoints.Count > 0;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool IsFilePath(string path) =>
        !path.Any(char.IsControl) && !Directory.Exists(path) && !Path.EndsInDirectorySeparator(path);

    private static bool IsName(string id) =>
        id.Length is >= 1 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string SanitizedHostName()
    {
        string name = new(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-').ToArray());
        return name.Length is >= 1 and <= 64 ? name : "silo";
    }
}
