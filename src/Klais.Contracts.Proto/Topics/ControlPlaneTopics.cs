namespace Klais.Contracts.Proto;

/// <summary>
/// The control plane's Kafka topics and their key conventions, in one place.
/// </summary>
public static class ControlPlaneTopics
{
    /// <summary>Drives grains. Key = grain key (<see cref="GrainKey"/>); the silo consuming a partition hosts its device grains.</summary>
    public const string Reports = "klais.reports";

    /// <summary>Compacted; key = <c>&lt;target&gt;/&lt;item&gt;</c> (<see cref="ControlKey"/>); read by every edge from the beginning.</summary>
    public const string Control = "klais.control";

    /// <summary>Partition counts the dev cluster creates (a production cluster sets its own; silos read them from metadata).</summary>
    public const int DefaultReportPartitions = 12;

    /// <summary>Partitions of klais.control: small, read whole by every reader.</summary>
    public const int DefaultSmallTopicPartitions = 1;

    /// <summary>The consumer group all silos share on <see cref="Reports"/>.</summary>
    public const string SiloGroup = "klais-silos";

    /// <summary>The target of a control update meant for every edge.</summary>
    public const string AllEdges = "*";

    /// <summary>Topic configuration a production cluster should use (the mock ignores it).</summary>
    public static IReadOnlyDictionary<string, string> CompactedConfig { get; } = new Dictionary<string, string>
    {
        ["cleanup.policy"] = "compact",
        ["min.compaction.lag.ms"] = "60000",
    };
}

/// <summary>Keys of klais.control: <c>"*/block/sensor-42"</c>, <c>"edge-1/rate"</c>, <c>"*/burst"</c>.</summary>
public static class ControlKey
{
    public static string Block(string deviceId) => $"{ControlPlaneTopics.AllEdges}/block/{deviceId}";

    public static string DeviceLimit(string deviceId) => $"{ControlPlaneTopics.AllEdges}/limit/{deviceId}";

    public static string Rate(string target) => $"{target}/rate";

    public static string Burst => $"{ControlPlaneTopics.AllEdges}/burst";

    /// <summary>The fleet's policy: the version a completed rollout put in force, for every edge without a record of its own.</summary>
    public static string Policy => $"{ControlPlaneTopics.AllEdges}/policy";

    /// <summary>One edge's policy, as a rollout stage reaches it or a rollback returns it; it wins over <see cref="Policy"/>.</summary>
    public static string NodePolicy(string nodeId) => $"{nodeId}/policy";
}
