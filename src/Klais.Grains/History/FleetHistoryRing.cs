using Klais.Contracts.Proto;

namespace Klais.Grains.History;

/// <summary>
/// The samples of <see cref="FleetHistoryGrain"/> as they are stored: a ring of at most <see cref="Capacity"/>
/// samples, oldest first, each with at most <see cref="MaxNodes"/> edges (the busiest), so the state stays bounded
/// however large the fleet grows.
/// </summary>
internal sealed class FleetHistoryRing(FleetHistoryState state)
{
    /// <summary>Ten minutes of one-second samples.</summary>
    public const int Capacity = 600;

    /// <summary>Edges kept per sample: 600 samples of 32 edges stay under 1 MB of state.</summary>
    public const int MaxNodes = 32;

    public int Count => state.Samples.Count;

    /// <summary>Adds a sample; the oldest goes when the ring is full. A sample not newer than the last is ignored.</summary>
    public bool Add(FleetHistorySample sample)
    {
        long at = sample.At.ToUnixTimeMilliseconds();
        if (state.Samples.Count > 0 && state.Samples[^1].UnixMs >= at)
        {
            return false;
        }

        var record = new FleetSampleRecord
        {
            UnixMs = at,
            PacketsPerSecond = sample.PacketsPerSecond,
            BytesPerSecond = sample.BytesPerSecond,
            ActiveDevices = sample.ActiveDevices,
            BlockedDevices = sample.BlockedDevices,
        };
        record.Nodes.Add(sample.Nodes.OrderByDescending(n => n.ReceivedPerSecond).ThenBy(n => n.NodeId, StringComparer.Ordinal).Take(MaxNodes)
            .Select(n => new NodeRateRecord { NodeId = n.NodeId, ReceivedPerSecond = n.ReceivedPerSecond, PassedPerSecond = n.PassedPerSecond }));
        state.Samples.Add(record);
        int excess = state.Samples.Count - Capacity;
        for (int i = 0; i < excess; i++)
        {
            state.Samples.RemoveAt(0);
        }

        return true;
    }

    /// <summary>The samples taken after <paramref name="since"/> (all when null), oldest first.</summary>
    public IReadOnlyList<FleetHistorySample> After(DateTimeOffset? since)
    {
        long after = since?.ToUnixTimeMilliseconds() ?? long.MinValue;
        return state.Samples.Where(s => s.UnixMs > after).Select(s => new FleetHistorySample(
            DateTimeOffset.FromUnixTimeMilliseconds(s.UnixMs), s.PacketsPerSecond, s.BytesPerSecond, s.ActiveDevices, s.BlockedDevices,
            s.Nodes.Select(n => new NodeRate(n.NodeId, n.ReceivedPerSecond, n.PassedPerSecond)).ToList())).ToList();
    }
}
