using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Klais.Contracts.Configuration;
using Klais.Contracts.Security;
using Klais.Edge.Spill;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Configuration;

/// <summary>The edge's settings after validation. Built only by <see cref="EdgeConfigLoader"/>.</summary>
internal sealed record EdgeConfig
{
    public required IPEndPoint UdpBind { get; init; }
    public required IPEndPoint ApiBind { get; init; }
    public required string? KafkaBootstrap { get; init; }
    public required string KafkaTopic { get; init; }
    public required double DamMaxRate { get; init; }
    public required long DamBurstSize { get; init; }
    public required int DamQueueMaxMessages { get; init; }
    public required int DamQueueMaxBytes { get; init; }
    public required LogLevel LogLevel { get; init; }
    public required string NodeId { get; init; }
    public required int ReceiveThreads { get; init; }

    /// <summary>Batches a receive thread may fill ahead of its handler thread; 0: no handler thread (<c>KLAIS_RECEIVE_HANDOFF</c>).</summary>
    public required int ReceiveHandoff { get; init; }
    public required int ReceiveBufferBytes { get; init; }
    public required int MaxPayloadBytes { get; init; }
    public required bool ValidateJson { get; init; }
    public required int KafkaLingerMs { get; init; }
    public required int KafkaMaxInFlight { get; init; }

    /// <summary>Headers or envelope for each record's seq, edge and ts (<c>KLAIS_KAFKA_RECORD_FORMAT</c>).</summary>
    public required RecordFormat KafkaRecordFormat { get; init; }
    /// <summary>Who may call the API and with what role; <see cref="ApiTokens.Open"/> without KLAIS_API_TOKENS_FILE.</summary>
    public required ApiTokens ApiTokens { get; init; }

    /// <summary>HTTPS for the API (<c>KLAIS_API_TLS_CERT</c>); null for plain HTTP.</summary>
    public X509Certificate2? ApiCertificate { get; init; }
    public required TimeSpan ShutdownTimeout { get; init; }

    /// <summary>Null: a temporary directory (the backlog does not survive a restart).</summary>
    public required string? SpillDirectory { get; init; }
    public required long SpillMaxBytes { get; init; }
    public required SpillFsync SpillFsync { get; init; }
    public required TimeSpan SpillFsyncInterval { get; init; }
    public required SpillFullPolicy SpillFullPolicy { get; init; }
    public required TimeSpan BreakerWindow { get; init; }
    public required TimeSpan BreakerBreak { get; init; }
    public required TimeSpan BreakerStall { get; init; }
    public required int DedupeMaxDevices { get; init; }
    public required TimeSpan DedupeIdle { get; init; }

    /// <summary>Reporting to klais.reports and following klais.control (<c>KLAIS_CONTROL</c>, on by default; only with an external Kafka).</summary>
    public bool ControlEnabled { get; init; }
    public TimeSpan ControlStartTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan DeviceReportWindow { get; init; } = TimeSpan.FromSeconds(1);
    public int ReportMaxDevices { get; init; } = 1000;

    /// <summary>Datagrams/s per device at which the edge votes against it.</summary>
    public double SuspectRate { get; init; } = 5000;

    /// <summary>Distinct source addresses of one device in a window at which the edge votes against it (reason "sources").</summary>
    public int SuspectSources { get; init; } = 16;

    /// <summary>Share of the edge's admitted datagrams in a window that makes one device a heavy hitter, reported at once.</summary>
    public double HeavyHitterShare { get; init; } = 0.05;

    /// <summary>Interface for the XDP filter, or null (no XDP).</summary>
    public string? XdpInterface { get; init; }

    public EdgeXdpMode XdpMode { get; init; } = EdgeXdpMode.Off;

    public bool EmbeddedKafka => KafkaBootstrap is null;
}

/// <summary><c>KLAIS_XDP_MODE</c>: Auto falls back to no XDP when attaching fails; Native and Generic make that a start-up error.</summary>
internal enum EdgeXdpMode
{
    Off,
    Auto,
    Native,
    Generic,
}

/// <summary>Outcome of reading the configuration: a config, a request for help, or every problem found.</summary>
internal sealed record EdgeConfigResult(EdgeConfig? Config, IReadOnlyList<string> Errors, bool HelpRequested);

/// <summary>
/// Layers, later ones win: defaults, a JSON file (<c>--config PATH</c> or <c>KLAIS_CONFIG</c>; keys are the
/// environment names), environment variables, command-line flags (<c>--dam-max-rate 20000</c> or
/// <c>--dam-max-rate=20000</c>). Every bad value is reported, all at once.
/// </summary>
internal static class EdgeConfigLoader
{
    private const int MaxDatagramPayload = 65507 - 22;


    private static readonly Dictionary<string, EdgeXdpMode> XdpModes = new(StringComparer.Ordinal)
    {
        ["auto"] = EdgeXdpMode.Auto, ["native"] = EdgeXdpMode.Native, ["generic"] = EdgeXdpMode.Generic, ["off"] = EdgeXdpMode.Off,
    };

    private static bool IsInterfaceName(string name) =>
        name.Length == 0 || (name.Length <= 15 && !name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || char.IsControl(c)));

    private static readonly Dictionary<string, RecordFormat> RecordFormats = new(StringComparer.Ordinal)
    {
        ["headers"] = RecordFormat.Headers, ["envelope"] = RecordFormat.Envelope,
    };

    private static readonly Dictionary<string, SpillFullPolicy> FullPolicies = new(StringComparer.Ordinal)
    {
        ["refuse-newest"] = SpillFullPolicy.RefuseNewest, ["block"] = SpillFullPolicy.Block,
    };

    public static EdgeConfigResult Load(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        var errors = new List<string>();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        string? configPath = environment("KLAIS_CONFIG");
        bool help = false;

        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help" or "-?")
            {
                help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                errors.Add($"Argument \"{arg}\" is not a flag. Flags look like --dam-max-rate 20000; see --help.");
                continue;
            }

            string name = arg;
            string? value = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            if (value is null)
            {
                errors.Add($"Flag {name} needs a value.");
                continue;
            }

            if (name == "--config")
            {
                configPath = value;
                continue;
            }

            Setting? setting = EdgeSettings.All.FirstOrDefault(s => s.Flag == name);
            if (setting is null)
            {
                errors.Add($"Flag {name} is not a setting of klais-edge; see --help.");
                continue;
            }

            flags[setting.EnvName] = value;
        }

        if (help)
        {
            return new EdgeConfigResult(null, [], true);
        }

        Dictionary<string, string> file = configPath is null ? [] : ReadFile(configPath, errors);

        (string, string) Lookup(Setting s)
        {
            if (flags.TryGetValue(s.EnvName, out string? flag))
            {
                return (flag, "from " + s.Flag);
            }

            string? env = environment(s.EnvName);
            if (env is not null)
            {
                return (env, "from the environment");
            }

            return file.TryGetValue(s.EnvName, out string? fromFile)
                ? (fromFile, "from " + configPath)
                : (s.Default, "the default");
        }

        var read = new SettingReader(Lookup);
        string bootstrap = read.Text(EdgeSettings.KafkaBootstrap).Trim();
        string nodeId = read.Matching(EdgeSettings.NodeId, IsNodeId, "It must be at most 64 characters with no control characters.").Trim();
        if (read.Text(EdgeSettings.ApiToken).Length > 0)
        {
            read.Fail(EdgeSettings.ApiToken, "(hidden)", "It is replaced by KLAIS_API_TOKENS_FILE: a file of '<token> <role>' lines, roles read, operate and admin.");
        }

        ApiTokens tokens = ApiTokens.Read(read);
        X509Certificate2? certificate = ApiTls.Read(read);
        string xdpInterface = read.Matching(EdgeSettings.XdpInterface, IsInterfaceName, "It must be a network interface name: 1 to 15 characters, no '/', ':' or whitespace.").Trim();
        string xdpModeText = read.Text(EdgeSettings.XdpMode).Trim();
        EdgeXdpMode xdpMode = xdpModeText.Length == 0
            ? (xdpInterface.Length == 0 ? EdgeXdpMode.Off : EdgeXdpMode.Auto)
            : read.OneOf(EdgeSettings.XdpMode, XdpModes);
        if (xdpModeText.Length > 0 && xdpMode != EdgeXdpMode.Off && xdpInterface.Length == 0)
        {
            errors.Add($"KLAIS_XDP_MODE is \"{xdpModeText}\" but KLAIS_XDP_IFACE is unset. Name the interface the filter attaches to, or set KLAIS_XDP_MODE=off.");
        }

        string spillDir = read.Matching(EdgeSettings.SpillDir, IsDirectoryPath, "It must be a directory path (not an existing file), or empty for a temporary directory.").Trim();
        SpillFsync fsync = SpillFsync.Interval;
        TimeSpan fsyncInterval = TimeSpan.Zero;
        read.Matching(EdgeSettings.SpillFsync, v => SpillOptions.TryParseFsync(v, out fsync, out fsyncInterval), "It must be always, never, or interval:<ms> with 1 to 60000 ms.");
        var config = new EdgeConfig
        {
            UdpBind = read.EndPoint(EdgeSettings.UdpBind),
            ApiBind = read.EndPoint(EdgeSettings.ApiBind),
            KafkaBootstrap = bootstrap.Length == 0 ? null : bootstrap,
            KafkaTopic = read.Matching(EdgeSettings.KafkaTopic, KafkaTopicName.IsValid, KafkaTopicName.Rule),
            DamMaxRate = PolicySettings.DamMaxRate.Read(read),
            DamBurstSize = (long)PolicySettings.DamBurstSize.Read(read),
            DamQueueMaxMessages = (int)read.WholeNumber(EdgeSettings.DamQueueMaxMessages, 1, Dam.DamOptions.QueueMaxMessagesLimit),
            DamQueueMaxBytes = (int)read.WholeNumber(EdgeSettings.DamQueueMaxBytes, 1024, Dam.DamOptions.QueueMaxBytesLimit),
            LogLevel = (LogLevel)read.OneOf(EdgeSettings.LogLevel, LogLevelNames.Levels),
            NodeId = nodeId.Length == 0 ? Environment.MachineName : nodeId,
            ReceiveThreads = (int)read.WholeNumber(EdgeSettings.ReceiveThreads, 0, 256),
            ReceiveHandoff = (int)read.WholeNumber(EdgeSettings.ReceiveHandoff, 0, Receive.ReceiveOptions.MaxHandoffBatches),
            ReceiveBufferBytes = (int)read.WholeNumber(EdgeSettings.ReceiveBufferBytes, 4096, 1 << 30),
            MaxPayloadBytes = (int)read.WholeNumber(EdgeSettings.MaxPayloadBytes, 2, MaxDatagramPayload),
            ValidateJson = read.Boolean(EdgeSettings.ValidateJson),
            KafkaLingerMs = (int)read.WholeNumber(EdgeSettings.KafkaLingerMs, 0, Kafka.KafkaProducerOptions.MaxLingerMs),
            KafkaMaxInFlight = (int)read.WholeNumber(EdgeSettings.KafkaMaxInFlight, 1, Kafka.KafkaProducerOptions.MaxInFlightLimit),
            KafkaRecordFormat = read.OneOf(EdgeSettings.KafkaRecordFormat, RecordFormats),
            ApiTokens = tokens,
            ApiCertificate = certificate,
            ShutdownTimeout = TimeSpan.FromSeconds(read.WholeNumber(EdgeSettings.ShutdownSeconds, 1, 3600)),
            XdpInterface = xdpMode == EdgeXdpMode.Off || xdpInterface.Length == 0 ? null : xdpInterface,
            XdpMode = xdpInterface.Length == 0 ? EdgeXdpMode.Off : xdpMode,
            SpillDirectory = spillDir.Length == 0 ? null : spillDir,
            SpillMaxBytes = read.WholeNumber(EdgeSettings.SpillMaxBytes, SpillOptions.MinMaxBytes, SpillOptions.MaxMaxBytes),
            SpillFsync = fsync,
            SpillFsyncInterval = fsyncInterval,
            SpillFullPolicy = read.OneOf(EdgeSettings.SpillFullPolicy, FullPolicies),
            BreakerWindow = TimeSpan.FromMilliseconds(read.WholeNumber(EdgeSettings.BreakerWindowMs, 500, 600_000)),
            BreakerBreak = TimeSpan.FromMilliseconds(read.WholeNumber(EdgeSettings.BreakerBreakMs, 500, 3_600_000)),
            BreakerStall = TimeSpan.FromMilliseconds(read.WholeNumber(EdgeSettings.BreakerStallMs, 100, 600_000)),
            DedupeMaxDevices = (int)read.WholeNumber(EdgeSettings.DedupeMaxDevices, Dedupe.DedupeOptions.MinDevices, Dedupe.DedupeOptions.MaxDevices),
            DedupeIdle = TimeSpan.FromSeconds(read.WholeNumber(EdgeSettings.DedupeIdleSeconds, 1, 30L * 86_400)),
            ControlEnabled = read.OneOf(EdgeSettings.Control, SettingReader.OnOff) && bootstrap.Length > 0,
            ControlStartTimeout = TimeSpan.FromMilliseconds(read.WholeNumber(EdgeSettings.ControlStartTimeoutMs, 1000, 600_000)),
            ReportInterval = TimeSpan.FromMilliseconds(PolicySettings.ReportIntervalMs.Read(read)),
            DeviceReportWindow = TimeSpan.FromMilliseconds(read.WholeNumber(EdgeSettings.DeviceReportWindowMs, 100, 60_000)),
            ReportMaxDevices = (int)read.WholeNumber(EdgeSettings.ReportMaxDevices, 1, 100_000),
            SuspectRate = PolicySettings.SuspectRate.Read(read),
            HeavyHitterShare = PolicySettings.HeavyHitterShare.Read(read),
            SuspectSources = (int)PolicySettings.SuspectSources.Read(read),
        };

        errors.AddRange(read.Errors);
        return errors.Count == 0 ? new EdgeConfigResult(config, [], false) : new EdgeConfigResult(null, errors, false);
    }

    public static string HelpText()
    {
        var lines = new List<string>
        {
            "klais-edge: receives device datagrams over UDP, rate-limits them with the Dam and delivers them to Kafka.",
            "",
            "Every setting is an environment variable, a flag, or a key of the JSON file given by --config PATH (or KLAIS_CONFIG).",
            "Flags win over the environment, which wins over the file. Bad values are all reported at start-up (exit code 2).",
            "",
        };
        foreach (Setting s in EdgeSettings.All)
        {
            string shown = s.Default.Length == 0 ? "(unset)" : s.Default;
            lines.Add($"  {s.EnvName,-32} {s.Flag,-28} default {shown}");
            lines.Add($"      {s.Description}");
        }

        return string.Join(Environment.NewLine, lines);
    }

    private static bool IsDirectoryPath(string path) =>
        path.Trim().Length == 0 || (path.IndexOfAny(Path.GetInvalidPathChars()) < 0 && !File.Exists(path.Trim()));

    private static bool IsNodeId(string nodeId) => nodeId.Length <= 64 && !nodeId.Any(char.IsControl);

    private static Dictionary<string, string> ReadFile(string path, List<string> errors)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"Settings file {path} must hold one JSON object whose keys are setting names like KLAIS_DAM_MAX_RATE.");
                return values;
            }

            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (EdgeSettings.All.All(s => s.EnvName != p.Name))
                {
                    errors.Add($"Settings file {path} has key \"{p.Name}\", which is not a setting of klais-edge; see --help.");
                    continue;
                }

                values[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                    _ => p.Value.GetRawText(),
                };
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            errors.Add($"Settings file {path} could not be read: {e.Message}");
        }

        return values;
    }
}
