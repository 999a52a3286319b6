using Orleans.Concurrency;

namespace Klais.Grains;

/// <summary>
/// FleetHistoryGrain("fleet"): the fleet's rate and every edge's rate, sampled each second from the swarm grain and
/// the node index into a bounded ring (10 minutes), durable, so charts show history however recently a viewer came.
/// </summary>
[Alias("klais.IFleetHistoryGrain")]
public interface IFleetHistoryGrain : IGrainWithStringKey
{
    /// <summary>Activates the grain and its reminder, so sampling goes on after a failover; silos call it at start.</summary>
    [Alias("start")]
    Task Start();

    /// <summary>One silo's busiest devices over its last control interval (sent by its ingestion with the swarm aggregate).</summary>
    [Alias("contribute-talkers")]
    Task ContributeTalkers(string siloId, DateTimeOffset at, IReadOnlyList<DeviceRate> busiest);

    /// <summary>The busiest devices of the fleet now: every silo's latest list, merged (held in memory only).</summary>
    [Alias("top-talkers"), AlwaysInterleave]
    Task<IReadOnlyList<DeviceRate>> TopTalkers();

    /// <summary>The samples taken after <paramref name="since"/> (all of them when null), oldest first.</summary>
    [Alias("list"), AlwaysInterleave]
    Task<IReadOnlyList<FleetHistorySample>> List(DateTimeOffset? since);
}

/// <summary>The fleet at one second: the swarm grain's figures and each edge's rates (the busiest edges when many).</summary>
[GenerateSerializer, Immutable, Alias("klais.FleetSample")]
public sealed record FleetHistorySample(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] double PacketsPerSecond,
    [property: Id(2)] double BytesPerSecond,
    [property: Id(3)] int ActiveDevices,
    [property: Id(4)] int BlockedDevices,
    [property: Id(5)] IReadOnlyList<NodeRate> Nodes);

/// <summary>One edge's rates in a <see cref="FleetHistorySample"/>.</summary>
[GenerateSerializer, Immutable, Alias("klais.NodeRate")]
public sealed record NodeRate(
    [property: Id(0)] string NodeId,
    [property: Id(1)] double ReceivedPerSecond,
    [property: Id(2)] double PassedPerSecond);

/// <summary>A device's rate over one control interval, summed over the edges that reported it.</summary>
[GenerateSerializer, Immutable, Alias("klais.DeviceRate")]
public sealed record DeviceRate(
    [property: Id(0)] string DeviceId,
    [property: Id(1)] double PacketsPerSecond,
    [property: Id(2)] double BytesPerSecond);
