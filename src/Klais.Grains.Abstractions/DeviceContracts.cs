using Orleans.Concurrency;

namespace Klais.Grains;

/// <summary>
/// DeviceGrain(device id): what the fleet knows about one device from every edge's reports, and the block decision
/// (a quorum of edges voting within the window, or a conclusive fleet view), with a TTL whose expiry survives
/// deactivation and failover.
/// </summary>
[Alias("klais.IDeviceGrain")]
public interface IDeviceGrain : IGrainWithStringKey
{
    /// <summary>
    /// Applies edges' reports in order (a report whose sequence its source already sent changes nothing) and writes
    /// the state, with any change not yet written before. <see cref="ApplyResult.Durable"/> is false when the write
    /// failed: the change is kept in memory and written by a later call or <see cref="Flush"/>.
    /// </summary>
    [Alias("apply")]
    Task<ApplyResult> Apply(IReadOnlyList<DeviceObservation> reports);

    /// <summary>Writes state changed by earlier calls and not yet durable; true when nothing is left unwritten.</summary>
    [Alias("flush")]
    Task<bool> Flush();

    /// <summary>
    /// The device's state, or null when no edge has reported it. Interleaves with a turn waiting for its write (a slow
    /// or absent store must not make reads wait): it answers from memory, as of the last applied report.
    /// </summary>
    [Alias("describe"), AlwaysInterleave]
    Task<DeviceSnapshot?> Describe();

    /// <summary>An operator's block: in force for <paramref name="ttlSeconds"/>, sent to every edge.</summary>
    [Alias("block")]
    Task<DeviceSnapshot> Block(int ttlSeconds, string reason);

    /// <summary>Lifts a block (null when the device was never seen).</summary>
    [Alias("unblock")]
    Task<DeviceSnapshot?> Unblock(string reason);

    /// <summary>
    /// A vote from a voter other than an edge (the fleet outlier model), counted like an edge's: one per voter within the
    /// window. Ignored for a device never seen or blocked.
    /// </summary>
    [Alias("vote"), OneWay]
    Task Vote(string voter, string reason, double score);
}

/// <summary>What a grain made of a batch of reports: how many were new, and whether the state is durable now.</summary>
[GenerateSerializer, Immutable, Alias("klais.ApplyResult")]
public readonly record struct ApplyResult([property: Id(0)] int Applied, [property: Id(1)] bool Durable);

/// <summary>One edge's summary of one device over a short window (a <c>DeviceReport</c> of klais.reports).</summary>
[GenerateSerializer, Immutable, Alias("klais.DeviceObservation")]
public sealed record DeviceObservation
{
    /// <summary>The edge that sent it.</summary>
    [Id(0)] public required string SourceId { get; init; }

    /// <summary>Monotonic per source; a grain ignores what it has seen.</summary>
    [Id(1)] public required ulong Sequence { get; init; }

    [Id(2)] public long WindowStartUnixMs { get; init; }

    [Id(3)] public int WindowMs { get; init; }

    [Id(4)] public ulong Packets { get; init; }

    [Id(5)] public ulong Bytes { get; init; }

    [Id(6)] public ulong Duplicates { get; init; }

    [Id(7)] public ulong Gaps { get; init; }

    /// <summary>Examples of source addresses seen in the window (IP only).</summary>
    [Id(8)] public IReadOnlyList<string> SourceAddresses { get; init; } = [];

    /// <summary>The edge's estimate of distinct source addresses in the window.</summary>
    [Id(9)] public uint DistinctSources { get; init; }

    /// <summary>Sent before the window ended: its counts come again in full; only rate, sources and votes are taken.</summary>
    [Id(10)] public bool Interim { get; init; }

    /// <summary>The edge's suspicion vote ("rate", "duplicates", "sources", …), or null.</summary>
    [Id(11)] public string? VoteReason { get; init; }

    [Id(12)] public double VoteScore { get; init; }
}

[GenerateSerializer, Immutable, Alias("klais.EdgeSighting")]
public sealed record EdgeSighting(
    [property: Id(0)] string NodeId,
    [property: Id(1)] DateTimeOffset LastSeen,
    [property: Id(2)] double PacketsPerSecond,
    [property: Id(3)] uint DistinctSources);

[GenerateSerializer, Immutable, Alias("klais.VoteInfo")]
public sealed record VoteInfo(
    [property: Id(0)] string NodeId,
    [property: Id(1)] string Reason,
    [property: Id(2)] double Score,
    [property: Id(3)] DateTimeOffset At);

[GenerateSerializer, Immutable, Alias("klais.BlockInfo")]
public sealed record BlockInfo(
    [property: Id(0)] string Origin,
    [property: Id(1)] string Reason,
    [property: Id(2)] DateTimeOffset Since,
    [property: Id(3)] DateTimeOffset ExpiresAt,
    [property: Id(4)] IReadOnlyList<string> Evidence);

/// <summary>A device as its grain sees it; <see cref="OwnerSilo"/> names the silo hosting the activation.</summary>
[GenerateSerializer, Immutable, Alias("klais.DeviceSnapshot")]
public sealed record DeviceSnapshot
{
    [Id(0)] public required string DeviceId { get; init; }

    [Id(1)] public required string OwnerSilo { get; init; }

    [Id(2)] public ulong Packets { get; init; }

    [Id(3)] public ulong Bytes { get; init; }

    [Id(4)] public ulong Duplicates { get; init; }

    [Id(5)] public ulong Gaps { get; init; }

    [Id(6)] public ulong Reports { get; init; }

    [Id(7)] public double Rate { get; init; }

    [Id(8)] public double RateMean { get; init; }

    [Id(9)] public double RateStddev { get; init; }

    [Id(10)] public double AnomalyScore { get; init; }

    [Id(11)] public IReadOnlyList<EdgeSighting> Edges { get; init; } = [];

    [Id(12)] public IReadOnlyList<string> Sources { get; init; } = [];

    [Id(13)] public IReadOnlyList<VoteInfo> Votes { get; init; } = [];

    [Id(14)] public bool Blocked { get; init; }

    [Id(15)] public BlockInfo? Block { get; init; }

    [Id(16)] public ulong BlocksTotal { get; init; }

    [Id(17)] public DateTimeOffset? FirstSeen { get; init; }

    [Id(18)] public DateTimeOffset? LastSeen { get; init; }
}
