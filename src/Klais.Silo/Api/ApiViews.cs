using Klais.Grains;

namespace Klais.Silo.Api;

// JSON shapes of the grain API that are not grain types (snake_case on the wire). Grain snapshots are returned as they are.

internal sealed record BlockRequest(int TtlSeconds, string Reason);

internal sealed record SiloView(string SiloId, string Status, string SiloAddress, string? ApiEndpoint, int? Activations, DateTime Started, DateTime LastAlive);

internal sealed record StateWritesView(string Status, long Succeeded, long Failed, DateTimeOffset? LastFailure, string? LastError);

internal sealed record IngestionView(int Partitions, long Consumed, long Applied, long Rejected, long Batches, int UncommittedBatches,
    long OffsetCommits, long OffsetCommitFailures, long GrainCallFailures, string? LastProblem);

internal sealed record HealthView(string Status, string SiloId, string Mode, string? Warning, string? Redis, StateWritesView StateWrites,
    IngestionView Ingestion, long ControlUpdates, string Degradation, IReadOnlyList<string> DegradationReasons, BurstModelView Model,
    ApiAccessView ApiAccess, FleetPolicyView FleetPolicy);

/// <summary><c>/health</c>'s silo-side settings of the fleet policy in force here, and the consensus values they make.</summary>
internal sealed record FleetPolicyView(long Version, IReadOnlyDictionary<string, string> Settings, ConsensusInForceView Consensus, string? BurstModelPinned);

internal sealed record ConsensusInForceView(int Quorum, double WindowSeconds, double BlockTtlSeconds);

/// <summary><c>/health</c>'s account of API access: <c>tokens</c> or <c>open</c> (with the warning), and the requests refused.</summary>
internal sealed record ApiAccessView(string Mode, string? Warning, long Unauthorized, long Forbidden);

internal sealed record ErrorView(string Error);

/// <summary>A 400 for a body with several bad fields: all of them in <c>error</c>, and one by one in <c>problems</c>.</summary>
internal sealed record ProblemsView(string Error, IReadOnlyList<string> Problems);

internal sealed record PolicyCreatedView(long Version);

internal sealed record ItemsView<T>(IReadOnlyList<T> Items);

/// <summary><c>/api/history</c>: samples every <c>interval_ms</c>, at most <c>capacity</c>, oldest first.</summary>
internal sealed record HistoryView(int IntervalMs, int Capacity, IReadOnlyList<Klais.Grains.FleetHistorySample> Items);
