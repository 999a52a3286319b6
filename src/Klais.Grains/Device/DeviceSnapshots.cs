using Klais.Contracts.Proto;

namespace Klais.Grains.Device;

/// <summary>Turns a device's stored state into what the grain API and integrations see.</summary>
internal static class DeviceSnapshots
{
    public static DeviceSnapshot From(DeviceDecisions device, string siloId, DateTimeOffset now)
    {
        DeviceState s = device.State;
        bool blocked = device.IsBlocked(now);
        return new DeviceSnapshot
        {
            DeviceId = s.DeviceId,
            OwnerSilo = siloId,
            Packets = s.Packets,
            Bytes = s.Bytes,
            Duplicates = s.Duplicates,
            Gaps = s.Gaps,
            Reports = s.Reports,
            Rate = s.LastRate,
            RateMean = s.RateMean,
            RateStddev = Math.Sqrt(s.RateVariance),
            AnomalyScore = s.AnomalyScore,
            Edges = s.Edges.Select(e => new EdgeSighting(e.NodeId, Time(e.LastSeenUnixMs), e.PacketsPerSecond, e.DistinctSources)).ToList(),
            Sources = [.. s.Sources],
            Votes = s.Votes.Select(v => new VoteInfo(v.NodeId, v.Reason, v.Score, Time(v.UnixMs))).ToList(),
            Blocked = blocked,
            Block = blocked ? new BlockInfo(s.Block.Origin, s.Block.Reason, Time(s.Block.SinceUnixMs), Time(s.Block.ExpiresUnixMs), [.. s.Block.Evidence]) : null,
            BlocksTotal = s.BlocksTotal,
            FirstSeen = s.FirstSeenUnixMs == 0 ? null : Time(s.FirstSeenUnixMs),
            LastSeen = s.LastSeenUnixMs == 0 ? null : Time(s.LastSeenUnixMs),
        };
    }

    private static DateTimeOffset Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
}
