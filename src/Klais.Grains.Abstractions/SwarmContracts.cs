using Orleans.Concurrency;

namespace Klais.Grains;

/// <summary>
/// SwarmGrain("fleet"): merges what every silo ingested each control interval, tracks the fleet rate's trend and
/// burst probability, and runs one PID controller per reporting edge, writing rates to klais.control.
/// </summary>
[Alias("klais.ISwarmGrain")]
public interface ISwarmGrain : IGrainWithStringKey
{
    /// <summary>One silo's ingestion over its last interval.</summary>
    [Alias("contribute")]
    Task Contribute(SiloAggregate aggregate);

    [Alias("describe"), AlwaysInterleave]
    Task<FleetSnapshot> Describe();

    /// <summary>
    /// Linear trends of the fleet's and each edge's packet rate over the last <paramref name="windowSeconds"/> (at most
    /// 600), forecast <paramref name="horizonSeconds"/> ahead.
    /// </summary>
    [Alias("trends"), AlwaysInterleave]
    Task<TrendsSnapshot> Trends(int windowSeconds, int horizonSeconds);
}

/// <summary>A least-squares line through one rate series (packets/s, one value a second).</summary>
[GenerateSerializer, Immutable, Alias("klais.TrendView")]
public sealed record TrendView(
    [property: Id(0)] string Series,
    [property: Id(1)] int Points,
    [property: Id(2)] double Current,
    [property: Id(3)] double SlopePerSecond,
    [property: Id(4)] double Fitted,
    [property: Id(5)] double Forecast,
    [property: Id(6)] double RSquared,
    [property: Id(7)] double ResidualStd);

/// <summary>The fleet's and each edge's rate trend; <see cref="Fleet"/> is null until two seconds are recorded.</summary>
[GenerateSerializer, Immutable, Alias("klais.TrendsSnapshot")]
public sealed record TrendsSnapshot
{
    [Id(0)] public required string OwnerSilo { get; init; }

    [Id(1)] public DateTimeOffset At { get; init; }

    [Id(2)] public int WindowSeconds { get; init; }

    [Id(3)] public int HorizonSeconds { get; init; }

    [Id(4)] public TrendView? Fleet { get; init; }

    [Id(5)] public IReadOnlyList<TrendView> Nodes { get; init; } = [];
}

/// <summary>What one silo ingested over one interval.</summary>
[GenerateSerializer, Immutable, Alias("klais.SiloAggregate")]
public sealed record SiloAggregate
{
    [Id(0)] public required string SiloId { get; init; }

    [Id(1)] public long AtUnixMs { get; init; }

    /// <summary>Sum over the devices reported in the interval of each report's packets per second.</summary>
    [Id(2)] public double PacketsPerSecond { get; init; }

    [Id(3)] public double BytesPerSecond { get; init; }

    /// <summary>Distinct devices reported in the interval.</summary>
    [Id(4)] public int ActiveDevices { get; init; }

    /// <summary>Devices this silo saw for the first time in the interval, per second.</summary>
    [Id(5)] public double NewDevicesPerSecond { get; init; }
}

/// <summary>One edge as the controller sees it.</summary>
[GenerateSerializer, Immutable, Alias("klais.ControlledNode")]
public sealed record ControlledNode(
    [property: Id(0)] string NodeId,
    [property: Id(1)] double ReceivedPerSecond,
    [property: Id(2)] long KafkaLag,
    [property: Id(3)] double Cpu,
    [property: Id(4)] double BaseRate,
    [property: Id(5)] double PidOutput,
    [property: Id(6)] double Rate,
    [property: Id(7)] bool Stale);

/// <summary>The fleet at the swarm grain's last step.</summary>
[GenerateSerializer, Immutable, Alias("klais.FleetSnapshot")]
public sealed record FleetSnapshot
{
    [Id(0)] public required string OwnerSilo { get; init; }

    [Id(1)] public DateTimeOffset? At { get; init; }

    [Id(2)] public int SilosReporting { get; init; }

    [Id(3)] public double PacketsPerSecond { get; init; }

    [Id(4)] public double BytesPerSecond { get; init; }

    [Id(5)] public int ActiveDevices { get; init; }

    [Id(6)] public double NewDevicesPerSecond { get; init; }

    [Id(7)] public int BlockedDevices { get; init; }

    [Id(8)] public int AnomalousDevices { get; init; }

    [Id(9)] public double Level { get; init; }

    [Id(10)] public double Trend { get; init; }

    [Id(11)] public double Forecast { get; init; }

    [Id(12)] public double BurstProbability { get; init; }

    [Id(13)] public int BurstLevel { get; init; }

    [Id(14)] public IReadOnlyList<ControlledNode> Nodes { get; init; } = [];

    /// <summary>What produced <see cref="BurstProbability"/>; null before the first step.</summary>
    [Id(15)] public BurstModelView? Model { get; init; }

    /// <summary>
    /// Whether the fleet acts on <see cref="BurstProbability"/> (<c>KLAIS_BURST_ADVICE</c>); false keeps
    /// <see cref="BurstLevel"/> at 0.
    /// </summary>
    [Id(16)] public bool BurstAdvice { get; init; } = true;
}

/// <summary>
/// The burst predictor in force: <see cref="Kind"/> <c>onnx</c> (the trained model, <see cref="Version"/> naming the
/// file by its SHA-256) or <c>heuristic</c> (Holt's trend). <see cref="Error"/> says why the model is not in force
/// (missing, corrupt or failing file): that is DEGRADED_ML. A heuristic without an error is the model waiting for a
/// full window of fleet history (<see cref="WarmUpSeconds"/> left), which is not a degradation.
/// </summary>
[GenerateSerializer, Immutable, Alias("klais.BurstModelView")]
public sealed record BurstModelView(
    [property: Id(0)] string Kind,
    [property: Id(1)] string? Version,
    [property: Id(2)] string? Error,
    [property: Id(3)] string Path,
    [property: Id(4)] int WarmUpSeconds)
{
    public const string Onnx = "onnx";
    public const string Heuristic = "heuristic";

    /// <summary>True while the model is unavailable and the heuristic stands in: DEGRADED_ML.</summary>
    public bool Degraded => Error is not null;
}
