using Klais.Contracts.Security;
using Klais.Contracts.Configuration;

namespace Klais.Silo.Configuration;

/// <summary>Every setting of klais-silo in one table.</summary>
internal static class SiloSettings
{
    public static readonly Setting Redis = new("KLAIS_REDIS", "", "Redis for membership, grain state and reminders: a StackExchange.Redis configuration string (127.0.0.1:6379, or host:port,password=…). Unset: development mode (one silo, localhost clustering, state in memory).");
    public static readonly Setting KafkaBootstrap = new("KLAIS_KAFKA_BOOTSTRAP", "", "Kafka bootstrap servers; unset starts an embedded in-memory dev cluster (not durable, this silo only).");
    public static readonly Setting SiloId = new("KLAIS_SILO_ID", "", "This silo's name in the cluster (unique): 1-64 of a-z A-Z 0-9 . _ -; defaults to the host name.");
    public static readonly Setting ClusterId = new("KLAIS_CLUSTER_ID", "klais", "Orleans cluster id: silos with the same one form a cluster (a new one per deployment allows blue/green).");
    public static readonly Setting ServiceId = new("KLAIS_SERVICE_ID", "klais", "Orleans service id: stays the same across deployments; grain state and reminders are keyed by it.");
    public static readonly Setting SiloPort = new("KLAIS_SILO_PORT", "11111", "Port silos talk to each other on (0 picks a free one).");
    public static readonly Setting GatewayPort = new("KLAIS_SILO_GATEWAY_PORT", "30000", "Port Orleans clients (Klais.Client) connect to (0 picks a free one).");
    public static readonly Setting AdvertisedAddress = new("KLAIS_SILO_ADVERTISED_ADDRESS", "127.0.0.1", "IP address other silos and clients reach this silo at.");
    public static readonly Setting ApiBind = new("KLAIS_SILO_API_BIND", "127.0.0.1:8081", "HTTP endpoint of the grain API and dashboards (port 0 picks a free one).");
    public static readonly Setting AdvertisedUrl = new("KLAIS_SILO_ADVERTISED_URL", "", "URL of this silo's API as /api/silos lists it; defaults to http://<bound address>.");
    public static readonly Setting ProbeTimeoutMs = new("KLAIS_SILO_PROBE_TIMEOUT_MS", "1000", "Membership: how long a silo waits for a probe's answer before it counts as missed.");
    public static readonly Setting MissedProbes = new("KLAIS_SILO_MISSED_PROBES", "3", "Membership: missed probes in a row after which a silo votes another dead.");
    public static readonly Setting DeathVotes = new("KLAIS_SILO_DEATH_VOTES", "2", "Membership: votes that declare a silo dead (capped by the number of live silos).");
    public static readonly Setting SessionTimeoutMs = new("KLAIS_SILO_SESSION_TIMEOUT_MS", "6000", "Kafka group session timeout of ingestion: how long a dead silo keeps its klais.reports partitions.");
    public static readonly Setting HeartbeatMs = new("KLAIS_SILO_HEARTBEAT_MS", "1500", "Kafka group heartbeat interval; below the session timeout.");
    public static readonly Setting StaticMembership = new("KLAIS_SILO_STATIC_MEMBERSHIP", "false", "Use group.instance.id = silo id (restarts keep partitions on real brokers; the mock ignores it).");
    public static readonly Setting IngestBatch = new("KLAIS_SILO_INGEST_BATCH", "200000", "Most klais.reports records handled as one batch (one grain call and one state write per device, one offset commit); batches grow to it under a backlog.");
    public static readonly Setting IngestDevices = new("KLAIS_SILO_INGEST_DEVICES", "20000", "Most distinct devices in one batch: each is one grain call and one state write, all of which must answer within the batch's 10 s call bound.");
    public static readonly Setting IngestWaitMs = new("KLAIS_SILO_INGEST_WAIT_MS", "200", "Longest ingestion waits for a first record before it looks at retries and aggregates again.");
    public static readonly Setting IdleEvictionSeconds = new("KLAIS_SILO_IDLE_EVICTION_SECONDS", "300", "Grains idle this long leave memory (at least 60).");
    public static readonly Setting Partitions = new("KLAIS_SILO_PARTITIONS", "12", "Partitions of klais.reports when the silo creates it (embedded dev cluster, or a real cluster without the topic).");
    public static readonly Setting ControlIntervalMs = new("KLAIS_CONTROL_INTERVAL_MS", "1000", "Swarm control interval: aggregates, burst forecast, PID.");
    public static readonly Setting Quorum = PolicySettings.ConsensusQuorum.Setting;
    public static readonly Setting WindowSeconds = PolicySettings.ConsensusWindowSeconds.Setting;
    public static readonly Setting BlockTtlSeconds = PolicySettings.BlockTtlSeconds.Setting;
    public static readonly Setting AnomalyZ = new("KLAIS_ANOMALY_Z", "4", "Anomaly score (z-score) counted as anomalous.");
    public static readonly Setting FloodEdges = new("KLAIS_FLOOD_EDGES", "3", "Fleet view: edges a device floods at once to be blocked.");
    public static readonly Setting FloodRate = new("KLAIS_FLOOD_RATE", "1000", "Fleet view: packets/s at one edge that count as flooding it.");
    public static readonly Setting SourceThreshold = new("KLAIS_SOURCE_THRESHOLD", "16", "Fleet view: source addresses of one device id that get it blocked.");
    public static readonly Setting OutlierThreshold = new("KLAIS_OUTLIER_THRESHOLD", "0.65", "Fleet outlier model (an isolation forest over device vectors): the score from which a device gets the model's vote, counted like an edge's; 0 turns the model off, otherwise 0.5-1.");
    public static readonly Setting TargetLag = new("KLAIS_PID_TARGET_LAG", "10000", "PID: the Kafka lag (records) an edge should stay at.");
    public static readonly Setting TargetCpu = new("KLAIS_PID_TARGET_CPU", "0.7", "PID: the CPU share an edge should stay at (0-1].");
    public static readonly Setting Kp = new("KLAIS_PID_KP", "0.5", "PID proportional gain.");
    public static readonly Setting Ki = new("KLAIS_PID_KI", "0.1", "PID integral gain.");
    public static readonly Setting Kd = new("KLAIS_PID_KD", "0.05", "PID derivative gain.");
    public static readonly Setting BurstModel = new("KLAIS_BURST_MODEL", "", "The swarm's burst model, an ONNX file from klais-train fit; unset: models/burst.onnx next to klais-silo (the shipped model). Missing, corrupt or failing: the Holt heuristic and DEGRADED_ML, not a start-up failure. Looked at every 5 s: replacing the file (write a new one, then rename it over) puts it in force without a restart. A fleet policy's burst_model_version pins one of the .onnx files in this file's folder instead.");
    public static readonly Setting LogLevel = new("KLAIS_LOG_LEVEL", "info", LogLevelNames.Description);

    public static IReadOnlyList<Setting> All { get; } =
    [
        Redis, KafkaBootstrap, SiloId, ClusterId, ServiceId, SiloPort, GatewayPort, AdvertisedAddress, ApiBind, AdvertisedUrl,
        ProbeTimeoutMs, MissedProbes, DeathVotes, SessionTimeoutMs, HeartbeatMs, StaticMembership, IngestBatch, IngestDevices, IngestWaitMs,
        IdleEvictionSeconds, Partitions, ControlIntervalMs, Quorum, WindowSeconds, BlockTtlSeconds, AnomalyZ, FloodEdges, FloodRate,
        SourceThreshold, OutlierThreshold, TargetLag, TargetCpu, Kp, Ki, Kd, BurstModel, LogLevel, ApiTokens.File, ApiTls.Cert, ApiTls.Key,
        ApiTls.Password,
    ];
}
