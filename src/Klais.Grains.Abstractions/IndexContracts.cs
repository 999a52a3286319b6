namespace Klais.Grains;

/// <summary>
/// The listing of edges: node grains write their latest summary here, so <c>/api/nodes</c> reads one grain
/// instead of scanning activations. Held in memory; node grains write again within a second of its reactivation.
/// </summary>
[Alias("klais.INodeIndexGrain")]
public interface INodeIndexGrain : IGrainWithStringKey
{
    [Alias("update")]
    Task Update(NodeSnapshot node);

    [Alias("list")]
    Task<IReadOnlyList<NodeSnapshot>> List();
}

/// <summary>
/// The listing of devices that are blocked, voted on or anomalous. Device grains write an entry when one of them
/// starts, changes or ends; the list is durable, so a block stays listed across failover.
/// </summary>
[Alias("klais.IAnomalyIndexGrain")]
public interface IAnomalyIndexGrain : IGrainWithStringKey
{
    [Alias("update")]
    Task Update(AnomalyEntry entry);

    [Alias("remove")]
    Task Remove(string deviceId);

    [Alias("list")]
    Task<IReadOnlyList<AnomalyEntry>> List();
}

[GenerateSerializer, Immutable, Alias("klais.AnomalyEntry")]
public sealed record AnomalyEntry
{
    [Id(0)] public required string DeviceId { get; init; }

    [Id(1)] public required string OwnerSilo { get; init; }

    [Id(2)] public double AnomalyScore { get; init; }

    [Id(3)] public int Votes { get; init; }

    [Id(4)] public bool Blocked { get; init; }

    [Id(5)] public string? Reason { get; init; }

    [Id(6)] public DateTimeOffset? ExpiresAt { get; init; }

    [Id(7)] public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What operators see in <c>/api/events</c>: blocks, unblocks, degradation changes, burst levels.</summary>
/// <summary>
/// OutlierIndexGrain(<see cref="GrainKeys.OutlierShard"/>): the fleet outlier model over one shard of the devices (a
/// uniform sample of the fleet, by a stable hash of the id). Device grains send their feature vector at most every
/// few seconds; the grain fits an isolation forest on its recent vectors and votes on a device it scores as a
/// conclusive outlier, as an edge would.
/// </summary>
[Alias("klais.IOutlierIndexGrain")]
public interface IOutlierIndexGrain : IGrainWithStringKey
{
    /// <summary>A device's latest feature vector (<c>Klais.Learning.Outliers.DeviceFeatures</c>).</summary>
    [Alias("observe"), Orleans.Concurrency.OneWay]
    Task Observe(string deviceId, float[] features);

    [Alias("describe"), Orleans.Concurrency.AlwaysInterleave]
    Task<OutlierModelSnapshot> Describe();
}

/// <summary>One shard's outlier model: what it holds, when it was fitted, what it scored and voted.</summary>
[GenerateSerializer, Immutable, Alias("klais.OutlierModelSnapshot")]
public sealed record OutlierModelSnapshot(
    [property: Id(0)] string Shard,
    [property: Id(1)] int Rows,
    [property: Id(2)] int Devices,
    [property: Id(3)] DateTimeOffset? FittedAt,
    [property: Id(4)] long Scored,
    [property: Id(5)] long Votes,
    [property: Id(6)] long Refused);

[Alias("klais.IEventLogGrain")]
public interface IEventLogGrain : IGrainWithStringKey
{
    [Alias("record")]
    Task Record(GrainEvent entry);

    /// <summary>The newest <paramref name="limit"/> events, newest first.</summary>
    [Alias("list")]
    Task<IReadOnlyList<GrainEvent>> List(int limit);
}

[GenerateSerializer, Immutable, Alias("klais.GrainEvent")]
public sealed record GrainEvent(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Kind,
    [property: Id(3)] string Grain,
    [property: Id(4)] string Detail);

/// <summary>Where each silo's HTTP API is: silos register at start, <c>/api/silos</c> joins it with Orleans' membership.</summary>
[Alias("klais.ISiloRegistryGrain")]
public interface ISiloRegistryGrain : IGrainWithStringKey
{
    [Alias("register")]
    Task Register(SiloRegistration silo);

    [Alias("list")]
    Task<IReadOnlyList<SiloRegistration>> List();
}

[GenerateSerializer, Immutable, Alias("klais.SiloRegistration")]
public sealed record SiloRegistration(
    [property: Id(0)] string SiloId,
    [property: Id(1)] string ApiEndpoint,
    [property: Id(2)] string SiloAddress,
    [property: Id(3)] DateTimeOffset Started);
