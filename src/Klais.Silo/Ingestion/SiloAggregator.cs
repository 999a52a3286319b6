using Klais.Grains;

namespace Klais.Silo.Ingestion;

/// <summary>
/// What this silo ingested over one control interval, for the swarm grain: each device's latest rate (so an interim
/// report and the full one for the same window count once), bytes, and the devices not seen in the interval before.
/// Used by the ingestion loop only.
/// </summary>
internal sealed class SiloAggregator
{
    private Dictionary<(string Edge, string Device), (double Packets, double Bytes)> _current = [];
    private HashSet<string> _previous = new(StringComparer.Ordinal);

    /// <summary>The latest rate of <paramref name="deviceId"/> at the edge that sent <paramref name="report"/>.</summary>
    public void Add(string deviceId, DeviceObservation report)
    {
        double seconds = Math.Max(report.WindowMs, 1) / 1000.0;
        _current[(report.SourceId, deviceId)] = (report.Packets / seconds, report.Bytes / seconds);
    }

    /// <summary>The busiest devices of the interval <see cref="Take"/> closed last, summed over edges (for the dashboard's top talkers).</summary>
    public IReadOnlyList<DeviceRate> Busiest { get; private set; } = [];

    public SiloAggregate Take(string siloId, long nowUnixMs, long intervalMs)
    {
        double packets = 0, bytes = 0;
        var devices = new Dictionary<string, (double Packets, double Bytes)>(StringComparer.Ordinal);
        foreach (((_, string device), (double p, double b)) in _current)
        {
            packets += p;
            bytes += b;
            (double Packets, double Bytes) sum = devices.GetValueOrDefault(device);
            devices[device] = (sum.Packets + p, sum.Bytes + b);
        }

        Busiest = devices.OrderByDescending(d => d.Value.Packets).Take(Klais.Grains.History.BusiestDevices.Count)
            .Select(d => new DeviceRate(d.Key, d.Value.Packets, d.Value.Bytes)).ToList();

        int fresh = devices.Keys.Count(d => !_previous.Contains(d));

        var aggregate = new SiloAggregate
        {
            SiloId = siloId,
            AtUnixMs = nowUnixMs,
            PacketsPerSecond = packets,
            BytesPerSecond = bytes,
            ActiveDevices = devices.Count,
            NewDevicesPerSecond = fresh * 1000.0 / Math.Max(intervalMs, 1),
        };
        _previous = devices.Keys.ToHashSet(StringComparer.Ordinal);
        _current = new(_current.Count);
        return aggregate;
    }
}
