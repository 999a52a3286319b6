using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Node;
using Klais.Grains.Runtime;
using Klais.Grains.Swarm;

namespace Klais.Silo.Api;

// JSON shapes of the grain API (snake_case on the wire). Built on the grain thread, serialized elsewhere.

internal sealed record EdgeView(string NodeId, DateTimeOffset LastSeen, double PacketsPerSecond);

internal sealed record VoteView(string NodeId, string Reason, double Score, DateTimeOffset At);

internal sealed record BlockView(string Origin, string Reason, DateTimeOffset Since, DateTimeOffset ExpiresAt, IReadOnlyList<string> Evidence);

internal sealed record DeviceView(
    string DeviceId, string OwnerSilo, int Partition, long Epoch, ulong Packets, ulong Bytes, ulong Duplicates, ulong Gaps, ulong Reports,
    double Rate, double RateMean, double RateStddev, double AnomalyScore, IReadOnlyList<EdgeView> Edges, IReadOnlyList<string> Sources,
    IReadOnlyList<VoteView> Votes, bool Blocked, BlockView? Block, ulong BlocksTotal, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen)
{
    public static DeviceView From(DeviceGrain grain, string silo, PartitionHost host, DateTimeOffset now)
    {
        DeviceState s = grain.State;
        bool blocked = grain.IsBlocked(now);
        return new DeviceView(s.DeviceId, silo, host.Partition, host.Epoch, s.Packets, s.Bytes, s.Duplicates, s.Gaps, s.Reports,
            s.LastRate, s.RateMean, Math.Sqrt(s.RateVariance), s.AnomalyScore,
            s.Edges.Select(e => new EdgeView(e.NodeId, Time(e.LastSeenUnixMs), e.PacketsPerSecond)).ToList(), [.. s.Sources],
            s.Votes.Select(v => new VoteView(v.NodeId, v.Reason, v.Score, Time(v.UnixMs))).ToList(), blocked,
            blocked ? new BlockView(s.Block.Origin, s.Block.Reason, Time(s.Block.SinceUnixMs), Time(s.Block.ExpiresUnixMs), [.. s.Block.Evidence]) : null,
            s.BlocksTotal, s.FirstSeenUnixMs == 0 ? null : Time(s.FirstSeenUnixMs), s.LastSeenUnixMs == 0 ? null : Time(s.LastSeenUnixMs));
    }

    internal static DateTimeOffset Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
}

internal sealed record NodeView(
    string NodeId, string OwnerSilo, string Health, DateTimeOffset LastReport, ulong Reports, double ReceivedPerSecond, double PassedPerSecond,
    double DroppedPerSecond, long KafkaLag, double Cpu, int DegradationLevel, double BaseRate, double CurrentRate,
    long AppliedControlVersion, long AppliedPolicyVersion, int ActiveDevices)
{
    public static NodeView From(NodeGrain grain, string silo, DateTimeOffset now, TimeSpan staleAfter)
    {
        NodeReport r = grain.State.Last;
        return new NodeView(grain.Id, silo, grain.Health(now, staleAfter), DeviceView.Time(grain.State.LastReportUnixMs), grain.State.Reports,
            r.ReceivedPerSecond, r.PassedPerSecond, r.DroppedPerSecond, r.KafkaLag, r.Cpu, r.DegradationLevel, r.BaseRate, r.CurrentRate,
            r.AppliedControlVersion, r.AppliedPolicyVersion, r.ActiveDevices);
    }
}

internal sealed record ControlledNodeView(string NodeId, double ReceivedPerSecond, long KafkaLag, double Cpu, double BaseRate, double PidOutput, double Rate, bool Stale);

internal sealed record SwarmView(
    string OwnerSilo, DateTimeOffset? At, int PartitionsReporting, double PacketsPerSecond, double BytesPerSecond, int ActiveDevices,
    double NewDevicesPerSecond, int BlockedDevices, int AnomalousDevices, double Level, double Trend, double Forecast, double BurstProbability,
    int BurstLevel, IReadOnlyList<ControlledNodeView> Nodes)
{
    public static SwarmView From(FleetView v, string silo) => new(silo, v.AtUnixMs == 0 ? null : DeviceView.Time(v.AtUnixMs), v.Partitions,
        v.PacketsPerSecond, v.BytesPerSecond, v.ActiveDevices, v.NewDevicesPerSecond, v.BlockedDevices, v.AnomalousDevices, v.Level, v.Trend,
        v.Forecast, v.BurstProbability, v.BurstLevel,
        v.Nodes.Select(n => new ControlledNodeView(n.Load.NodeId, n.Load.ReceivedPerSecond, n.Load.KafkaLag, n.Load.Cpu, n.Load.BaseRate,
            n.PidOutput, n.Rate, n.Stale)).ToList());
}

internal sealed record PartitionView(int Partition, long Epoch, bool Serving);

internal sealed record SiloView(string SiloId, string Endpoint, IReadOnlyList<PartitionView> Partitions, DateTimeOffset LastHeartbeat, DateTimeOffset Started, bool Alive, bool Leaving);

internal sealed record EventView(DateTimeOffset At, string Silo, string Kind, string Grain, string Detail)
{
    public static EventView From(GrainEvent e) => new(DeviceView.Time(e.UnixMs), e.SiloId, e.Kind, e.Grain, e.Detail);
}

internal sealed record AnomalyView(string DeviceId, string OwnerSilo, double AnomalyScore, int Votes, bool Blocked, string? Reason, DateTimeOffset? ExpiresAt);

/// <summary>A listing gathered from every live silo: what came back and which silos did not answer.</summary>
internal sealed record FanOut<T>(IReadOnlyList<T> Items, IReadOnlyList<string> Silos, IReadOnlyList<string> Missing);

internal sealed record HealthView(string Status, string SiloId, string Endpoint, int Partitions, IReadOnlyList<OwnedPartitionInfo> Serving,
    long Processed, long Replays, long Skipped, long StateRecordsWritten, long OffsetCommits, long Restores, long FencedStateRecords,
    long EvictedGrains, long ControlUpdates);

internal sealed record ErrorView(string Error);
