using Klais.Contracts.Configuration;
using Klais.Contracts.Security;

namespace Klais.Edge.Configuration;

/// <summary>
/// Every setting of klais-edge in one table: its environment variable (the name operators use everywhere),
/// the command-line flag derived from it, the default, and the rule a value must meet. The same names are the
/// keys of an optional JSON settings file, so one vocabulary serves env, file and flags. The settings a fleet policy
/// may change are defined, with their bounds, in <see cref="PolicySettings"/>.
/// </summary>
internal static class EdgeSettings
{
    public static readonly Setting UdpBind = new("KLAIS_UDP_BIND", "0.0.0.0:5000", "UDP endpoint devices send to (IPv4 or [IPv6]:port).");
    public static readonly Setting ApiBind = new("KLAIS_API_BIND", "127.0.0.1:8080", "HTTP endpoint of /health, /stats, /config, /metrics.");
    public static readonly Setting KafkaBootstrap = new("KLAIS_KAFKA_BOOTSTRAP", "", "Kafka bootstrap servers; unset starts an embedded in-memory dev cluster (not durable).");
    public static readonly Setting KafkaTopic = new("KLAIS_KAFKA_TOPIC", "iot_telemetry", "Topic the telemetry is written to.");
    public static readonly Setting DamMaxRate = PolicySettings.DamMaxRate.Setting;
    public static readonly Setting DamBurstSize = PolicySettings.DamBurstSize.Setting;
    public static readonly Setting DamQueueMaxMessages = new("KLAIS_DAM_QUEUE_MAX_MESSAGES", "100000", "Overflow queue bound in datagrams.");
    public static readonly Setting DamQueueMaxBytes = new("KLAIS_DAM_QUEUE_MAX_BYTES", "67108864", "Overflow queue bound in bytes.");
    public static readonly Setting LogLevel = new("KLAIS_LOG_LEVEL", "info", LogLevelNames.Description);
    public static readonly Setting NodeId = new("KLAIS_NODE_ID", "", "This edge's id in headers and reports; defaults to the host name.");
    public static readonly Setting ReceiveThreads = new("KLAIS_RECEIVE_THREADS", "0", "Receive threads, one SO_REUSEPORT socket each; 0 means one per core.");
    public static readonly Setting ReceiveHandoff = new("KLAIS_RECEIVE_HANDOFF", "0", "Batches each receive thread may fill ahead of a handler thread of its socket (parse, dedupe, Dam, produce); 0 runs all of it on the receive thread. For one busy socket, e.g. a relay in front of the edge: 4.");
    public static readonly Setting ReceiveBufferBytes = new("KLAIS_RECEIVE_BUFFER_BYTES", "8388608", "Kernel receive buffer per socket (SO_RCVBUF).");
    public static readonly Setting MaxPayloadBytes = new("KLAIS_MAX_PAYLOAD_BYTES", "1024", "Largest payload accepted after the 22-byte header.");
    public static readonly Setting ValidateJson = new("KLAIS_VALIDATE_JSON", "true", "Reject payloads that are not one JSON value.");
    public static readonly Setting KafkaLingerMs = new("KLAIS_KAFKA_LINGER_MS", "5", "librdkafka linger.ms: how long a batch may wait to fill.");
    public static readonly Setting KafkaMaxInFlight = new("KLAIS_KAFKA_MAX_IN_FLIGHT", "200000", "Records handed to librdkafka and not yet acknowledged before the Dam holds back.");
    public static readonly Setting KafkaRecordFormat = new("KLAIS_KAFKA_RECORD_FORMAT", "headers", "Where each record carries seq, edge and ts: headers (three Kafka headers) or envelope (a binary prefix before the payload, no headers; about a third less CPU per record). docs/kafka.md.");
    public static readonly Setting ApiTokensFile = ApiTokens.File;

    /// <summary>The single token of earlier releases; refused with a pointer to <see cref="ApiTokensFile"/>.</summary>
    public static readonly Setting ApiToken = new("KLAIS_API_TOKEN", "", "Replaced by KLAIS_API_TOKENS_FILE; setting it is an error.");
    public static readonly Setting XdpInterface = new("KLAIS_XDP_IFACE", "", "Network interface the XDP filter attaches to; unset runs without XDP.");
    public static readonly Setting XdpMode = new("KLAIS_XDP_MODE", "", "auto (native where the driver supports it, else generic; without privileges: no XDP, said in /health), native, generic or off. Default: auto when KLAIS_XDP_IFACE is set.");
    public static readonly Setting ShutdownSeconds = new("KLAIS_SHUTDOWN_TIMEOUT_SECONDS", "10", "Time SIGTERM allows to drain the Dam and flush Kafka.");
    public static readonly Setting SpillDir = new("KLAIS_SPILL_DIR", "", "Directory of the spill log (records Kafka could not take yet); unset uses a temporary directory that does not survive a restart.");
    public static readonly Setting SpillMaxBytes = new("KLAIS_SPILL_MAX_BYTES", "1073741824", "Upper bound of the spill's files, bytes.");
    public static readonly Setting SpillFsync = new("KLAIS_SPILL_FSYNC", "interval:100", "When spilled records are fsynced: always, never, or interval:<ms>.");
    public static readonly Setting SpillFullPolicy = new("KLAIS_SPILL_FULL_POLICY", "refuse-newest", "When the spill is full: refuse-newest (refused and counted) or block (the Dam holds records, dropping when its queue is full).");
    public static readonly Setting BreakerWindowMs = new("KLAIS_BREAKER_WINDOW_MS", "2000", "The Kafka circuit opens when 80% of the delivery samples in this window failed.");
    public static readonly Setting BreakerBreakMs = new("KLAIS_BREAKER_BREAK_MS", "5000", "How long the Kafka circuit stays open before probing.");
    public static readonly Setting BreakerStallMs = new("KLAIS_BREAKER_STALL_MS", "3000", "Records in flight with no acknowledgement for this long count as a delivery failure.");
    public static readonly Setting DedupeMaxDevices = new("KLAIS_DEDUPE_MAX_DEVICES", "1048576", "Devices whose recent sequence numbers are remembered (32 bytes each); keep active devices under about half.");
    public static readonly Setting DedupeIdleSeconds = new("KLAIS_DEDUPE_IDLE_SECONDS", "3600", "A device unseen this long is forgotten first when room is needed.");
    public static readonly Setting Control = new("KLAIS_CONTROL", "on", "on: report to klais.reports and follow klais.control (replayed before receiving starts); off: neither. Only with KLAIS_KAFKA_BOOTSTRAP (the embedded dev cluster has no control plane).");
    public static readonly Setting ControlStartTimeoutMs = new("KLAIS_CONTROL_START_TIMEOUT_MS", "10000", "How long start-up waits for klais.control to be replayed; after it, receiving starts anyway (Kafka outage) and the follower catches up later.");
    public static readonly Setting ReportIntervalMs = PolicySettings.ReportIntervalMs.Setting;
    public static readonly Setting DeviceReportWindowMs = new("KLAIS_DEVICE_REPORT_WINDOW_MS", "1000", "Window of the per-device summaries.");
    public static readonly Setting ReportMaxDevices = new("KLAIS_REPORT_MAX_DEVICES", "1000", "Device summaries per window at most (busiest first); the counting table holds four times as many devices.");
    public static readonly Setting HeavyHitterShare = PolicySettings.HeavyHitterShare.Setting;
    public static readonly Setting SuspectSources = PolicySettings.SuspectSources.Setting;
    public static readonly Setting SuspectRate = PolicySettings.SuspectRate.Setting;

    public static IReadOnlyList<Setting> All { get; } =
    [
        UdpBind, ApiBind, KafkaBootstrap, KafkaTopic, DamMaxRate, DamBurstSize, DamQueueMaxMessages, DamQueueMaxBytes,
        LogLevel, NodeId, ReceiveThreads, ReceiveHandoff, ReceiveBufferBytes, MaxPayloadBytes, ValidateJson, KafkaLingerMs, KafkaMaxInFlight,
        KafkaRecordFormat, ApiTokensFile, ApiToken, ApiTls.Cert, ApiTls.Key, ApiTls.Password, XdpInterface, XdpMode, ShutdownSeconds, SpillDir, SpillMaxBytes, SpillFsync, SpillFullPolicy, BreakerWindowMs,
        BreakerBreakMs, BreakerStallMs, DedupeMaxDevices, DedupeIdleSeconds, Control, ControlStartTimeoutMs, ReportIntervalMs,
        DeviceReportWindowMs, ReportMaxDevices, SuspectRate, SuspectSources, HeavyHitterShare,
    ];
}
