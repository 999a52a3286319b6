using Orleans.Concurrency;

namespace Klais.Grains;

/// <summary>NodeGrain(node id): an edge's latest report: rates, Kafka lag, CPU, degradation, applied versions.</summary>
[Alias("klais.INodeGrain")]
public interface INodeGrain : IGrainWithStringKey
{
    /// <summary>Takes a node report (a replay changes nothing) and writes the state; see <see cref="IDeviceGrain.Apply"/>.</summary>
    [Alias("apply")]
    Task<ApplyResult> Apply(NodeObservation report);

    /// <summary>Writes state changed by earlier calls and not yet durable; true when nothing is left unwritten.</summary>
    [Alias("flush")]
    Task<bool> Flush();

    /// <summary>The node's state, or null when it never reported.</summary>
    [Alias("describe"), AlwaysInterleave]
    Task<NodeSnapshot?> Describe();
}

/// <summary>One edge's state, sent every second (a <c>NodeReport</c> of klais.reports).</summary>
[GenerateSerializer, Immutable, Alias("klais.NodeObservation")]
public sealed record NodeObservation
{
    [Id(0)] public required string SourceId { get; init; }

    [Id(1)] public required ulong Sequence { get; init; }

    [Id(2)] public double ReceivedPerSecond { get; init; }

    [Id(3)] public double PassedPerSecond { get; init; }

    [Id(4)] public double DroppedPerSecond { get; init; }

    [Id(5)] public long KafkaLag { get; init; }

    [Id(6)] public double Cpu { get; init; }

    [Id(7)] public int DegradationLevel { get; init; }

    [Id(8)] public double BaseRate { get; init; }

    [Id(9)] public double CurrentRate { get; init; }

    [Id(10)] public long AppliedControlVersion { get; init; }

    [Id(11)] public long AppliedPolicyVersion { get; init; }

    [Id(12)] public int ActiveDevices { get; init; }

    /// <summary>The newest policy version the edge refused (0: none), and its problems.</summary>
    [Id(13)] public long RejectedPolicyVersion { get; init; }

    [Id(14)] public string PolicyRejection { get; init; } = "";
}

/// <summary>An edge as its node grain knows it. <see cref="Health"/> is "ok", "degraded", "critical" or "stale".</summary>
[GenerateSerializer, Immutable, Alias("klais.NodeSnapshot")]
public sealed record NodeSnapshot
{
    [Id(0)] public required string NodeId { get; init; }

    [Id(1)] public required string OwnerSilo { get; init; }

    [Id(2)] public required string Health { get; init; }

    [Id(3)] public DateTimeOffset LastReport { get; init; }

    [Id(4)] public ulong Reports { get; init; }

    [Id(5)] public double ReceivedPerSecond { get; init; }

    [Id(6)] public double PassedPerSecond { get; init; }

    [Id(7)] public double DroppedPerSecond { get; init; }

    [Id(8)] public long KafkaLag { get; init; }

    [Id(9)] public double Cpu { get; init; }

    [Id(10)] public int DegradationLevel { get; init; }

    [Id(11)] public double BaseRate { get; init; }

    [Id(12)] public double CurrentRate { get; init; }

    [Id(13)] public long AppliedControlVersion { get; init; }

    [Id(14)] public long AppliedPolicyVersion { get; init; }

    [Id(15)] public int ActiveDevices { get; init; }

    [Id(16)] public long RejectedPolicyVersion { get; init; }

    [Id(17)] public string PolicyRejection { get; init; } = "";
}
