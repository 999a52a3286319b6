namespace Klais.Grains.Runtime;

/// <summary>Settings of one silo's grain runtime. Validation of operator input happens in klais-silo's config loader.</summary>
public sealed record SiloRuntimeOptions
{
    public required string SiloId { get; init; }

    public required string BootstrapServers { get; init; }

    /// <summary>Base URL of this silo's grain API, announced in klais.silos (set once the API is bound).</summary>
    public string ApiEndpoint { get; set; } = "";

    public string GroupId { get; init; } = Contracts.Proto.ControlPlaneTopics.SiloGroup;

    /// <summary>
    /// The group coordinator declares a silo dead after this long without a heartbeat; failover takes about this
    /// long plus the rebalance (on librdkafka's mock cluster the rebalance waits this minus 1 s; see docs/control-plane.md).
    /// </summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(6);

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMilliseconds(1500);

    /// <summary>group.instance.id = silo id (KIP-345): a restart within the session timeout keeps its partitions on a real broker.</summary>
    public bool StaticMembership { get; init; }

    /// <summary>How often changed grain state is written and offsets committed: the most a crash makes the next owner re-read.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>A grain with no record for this long leaves memory (its state stays in the changelog and the silo's passive store).</summary>
    public TimeSpan IdleEviction { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan AnnounceInterval { get; init; } = TimeSpan.FromSeconds(1);

    public ConsensusOptions Consensus { get; init; } = new();

    public ControllerOptions Controller { get; init; } = new();

    /// <summary>A silo whose last heartbeat is older than this is taken for gone when routing.</summary>
    public TimeSpan AnnouncementTtl => 3 * AnnounceInterval + TimeSpan.FromSeconds(1);
}
