using Klais.Client;
using Klais.Grains;

namespace Klais.Cli.Top;

/// <summary>How <c>klais top</c> orders the edges.</summary>
internal enum EdgeOrder
{
    Rate,
    Lag,
    Name,
}

/// <summary>
/// What <c>klais top</c> shows and where the operator is in it: the latest fleet view read from a silo, the order of the
/// edges, the selected device and its details. Keys change it (<see cref="Press"/>); <see cref="RefreshAsync"/> reads
/// the silo again. Nothing here draws.
/// </summary>
internal sealed class TopState(string silo)
{
    public string Silo { get; } = silo;

    public FleetSnapshot? Fleet { get; private set; }

    public IReadOnlyList<NodeSnapshot> Edges { get; private set; } = [];

    public IReadOnlyList<AnomalyEntry> Anomalies { get; private set; } = [];

    public EdgeOrder Order { get; private set; } = EdgeOrder.Rate;

    /// <summary>Index into <see cref="Anomalies"/> of the selected device.</summary>
    public int Selected { get; private set; }

    /// <summary>The selected device's state, read when the operator asked for it (Enter) and kept fresh while shown.</summary>
    public DeviceSnapshot? Details { get; private set; }

    /// <summary>The last refresh's problem (silo unreachable, 401/403), shown instead of stale data passing for fresh.</summary>
    public string? Problem { get; private set; }

    public DateTimeOffset? RefreshedAt { get; private set; }

    public bool Quit { get; private set; }

    public string? SelectedDevice => Selected < Anomalies.Count ? Anomalies[Selected].DeviceId : null;

    public async Task RefreshAsync(KlaisApiClient api, TimeProvider time, CancellationToken cancel)
    {
        try
        {
            FleetSnapshot fleet = await api.GetSwarmAsync(cancel);
            IReadOnlyList<NodeSnapshot> edges = await api.ListNodesAsync(cancel);
            IReadOnlyList<AnomalyEntry> anomalies = await api.ListAnomaliesAsync(cancel);
            string? keep = SelectedDevice;
            Fleet = fleet;
            Edges = edges;
            Anomalies = [.. anomalies.OrderByDescending(a => a.Blocked).ThenByDescending(a => Math.Abs(a.AnomalyScore)).ThenBy(a => a.DeviceId, StringComparer.Ordinal)];
            int again = keep is null ? -1 : Anomalies.ToList().FindIndex(a => a.DeviceId == keep);
            Selected = again >= 0 ? again : Math.Min(Selected, Math.Max(0, Anomalies.Count - 1));
            if (Details is not null)
            {
                Details = await api.GetDeviceAsync(Details.DeviceId, cancel);
            }

            Problem = null;
            RefreshedAt = time.GetUtcNow();
        }
        catch (Exception ex) when (ex is HttpRequestException or KlaisApiException or TaskCanceledException && !cancel.IsCancellationRequested)
        {
            Problem = ex.Message;
        }
    }

    /// <summary>The edges in the chosen order.</summary>
    public IEnumerable<NodeSnapshot> OrderedEdges() => Order switch
    {
        EdgeOrder.Lag => Edges.OrderByDescending(e => e.KafkaLag).ThenBy(e => e.NodeId, StringComparer.Ordinal),
        EdgeOrder.Name => Edges.OrderBy(e => e.NodeId, StringComparer.Ordinal),
        _ => Edges.OrderByDescending(e => e.ReceivedPerSecond).ThenBy(e => e.NodeId, StringComparer.Ordinal),
    };

    /// <summary>
    /// A key: <c>s</c> cycles the edges' order (rate, lag, name), arrows (or <c>j</c>/<c>k</c>) move the device
    /// selection, Enter shows the selected device's details (read at the next refresh), Escape hides them, <c>q</c> quits.
    /// True when the view must be read again at once (details asked for).
    /// </summary>
    public bool Press(ConsoleKeyInfo key)
    {
        switch (key.Key)
        {
            case ConsoleKey.S:
                Order = (EdgeOrder)(((int)Order + 1) % 3);
                return false;
            case ConsoleKey.DownArrow or ConsoleKey.J:
                Selected = Math.Min(Selected + 1, Math.Max(0, Anomalies.Count - 1));
                return false;
            case ConsoleKey.UpArrow or ConsoleKey.K:
                Selected = Math.Max(0, Selected - 1);
                return false;
            case ConsoleKey.Enter when SelectedDevice is { } device:
                Details = new DeviceSnapshot { DeviceId = device, OwnerSilo = "" };
                return true;
            case ConsoleKey.Escape:
                Details = null;
                return false;
            case ConsoleKey.Q:
                Quit = true;
                return false;
            default:
                return false;
        }
    }
}
