using Klais.Client;
using Klais.Grains;

namespace Klais.Cli.Export;

/// <summary>
/// What <c>klais export</c> writes for a time range, read from any silo: the nodes that reported in it, the devices
/// listed as anomalous or blocked whose entry changed in it, and the block and unblock events in it (the silo's event
/// log keeps its newest 500 events: older ones are not in an export).
/// </summary>
internal sealed record FleetExport(
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset ExportedAt,
    string Silo,
    IReadOnlyList<NodeSnapshot> Nodes,
    IReadOnlyList<AnomalyEntry> Anomalies,
    IReadOnlyList<GrainEvent> Blocks)
{
    public static async Task<FleetExport> ReadAsync(KlaisApiClient api, string silo, DateTimeOffset from, DateTimeOffset to, TimeProvider time, CancellationToken cancel)
    {
        bool InRange(DateTimeOffset at) => at >= from && at <= to;
        IReadOnlyList<NodeSnapshot> nodes = await api.ListNodesAsync(cancel);
        IReadOnlyList<AnomalyEntry> anomalies = await api.ListAnomaliesAsync(cancel);
        IReadOnlyList<GrainEvent> events = await api.ListEventsAsync(cancel);
        return new FleetExport(from, to, time.GetUtcNow(), silo,
            [.. nodes.Where(n => InRange(n.LastReport)).OrderBy(n => n.NodeId, StringComparer.Ordinal)],
            [.. anomalies.Where(a => InRange(a.UpdatedAt)).OrderByDescending(a => a.Blocked).ThenBy(a => a.DeviceId, StringComparer.Ordinal)],
            [.. events.Where(e => e.Kind is "block" or "unblock" && InRange(e.At)).OrderBy(e => e.At)]);
    }
}
