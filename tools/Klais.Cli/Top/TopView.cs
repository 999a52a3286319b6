using System.Globalization;
using Klais.Grains;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Klais.Cli.Top;

/// <summary>Draws a <see cref="TopState"/>: the fleet line, the edges, the anomalies and blocks, the selected device, the keys.</summary>
internal static class TopView
{
    public static IRenderable Render(TopState state, DateTimeOffset now)
    {
        var rows = new List<IRenderable> { Header(state, now) };
        if (state.Problem is { } problem)
        {
            rows.Add(new Markup($"[red]{Markup.Escape(problem)}[/] [grey](showing the last good view)[/]"));
        }

        rows.Add(Edges(state, now));
        rows.Add(Anomalies(state));
        if (state.Details is { } device)
        {
            rows.Add(Details(device));
        }

        rows.Add(new Markup($"[grey]s[/] order edges (now by {state.Order.ToString().ToLowerInvariant()})  [grey]↑/↓[/] select device  [grey]enter[/] details  [grey]esc[/] hide  [grey]q[/] quit"));
        return new Rows(rows);
    }

    private static Markup Header(TopState state, DateTimeOffset now)
    {
        FleetSnapshot? fleet = state.Fleet;
        string age = state.RefreshedAt is { } at ? $"{(now - at).TotalSeconds:0}s ago" : "never";
        string line = fleet is null
            ? "no fleet view yet"
            : Invariant($"fleet [bold]{fleet.PacketsPerSecond:N0}[/] pkt/s  devices {fleet.ActiveDevices:N0}  blocked [bold]{fleet.BlockedDevices}[/]  anomalous {fleet.AnomalousDevices}  burst p={fleet.BurstProbability:0.00} level {fleet.BurstLevel}  silos {fleet.SilosReporting}");
        return new Markup($"[bold]klais top[/] {Markup.Escape(state.Silo)}  [grey]read {age}[/]\n{line}");
    }

    private static Table Edges(TopState state, DateTimeOffset now)
    {
        var table = new Table().Title("edges").Expand();
        foreach (string column in new[] { "node", "health", "deg", "recv/s", "pass/s", "drop/s", "kafka lag", "control v", "policy v", "last report" })
        {
            table.AddColumn(column);
        }

        foreach (NodeSnapshot e in state.OrderedEdges())
        {
            string health = e.Health == "ok" ? "[green]ok[/]" : $"[yellow]{Markup.Escape(e.Health)}[/]";
            table.AddRow(
                Markup.Escape(e.NodeId), health, Invariant($"{e.DegradationLevel}"), Invariant($"{e.ReceivedPerSecond:N0}"),
                Invariant($"{e.PassedPerSecond:N0}"), Invariant($"{e.DroppedPerSecond:N0}"), Invariant($"{e.KafkaLag:N0}"),
                Invariant($"{e.AppliedControlVersion}"), Invariant($"{e.AppliedPolicyVersion}"), Invariant($"{(now - e.LastReport).TotalSeconds:0}s ago"));
        }

        if (state.Edges.Count == 0)
        {
            table.AddRow("[grey]no edge has reported[/]");
        }

        return table;
    }

    private static Table Anomalies(TopState state)
    {
        var table = new Table().Title("anomalies and blocks").Expand();
        foreach (string column in new[] { "", "device", "state", "score", "votes", "reason", "expires" })
        {
            table.AddColumn(column);
        }

        for (int i = 0; i < state.Anomalies.Count; i++)
        {
            AnomalyEntry a = state.Anomalies[i];
            table.AddRow(
                i == state.Selected ? "[bold]>[/]" : "", Markup.Escape(a.DeviceId), a.Blocked ? "[red]blocked[/]" : "watched",
                Invariant($"{a.AnomalyScore:0.0}"), Invariant($"{a.Votes}"), Markup.Escape(a.Reason ?? ""),
                a.ExpiresAt is { } expires ? expires.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "");
        }

        if (state.Anomalies.Count == 0)
        {
            table.AddRow("", "[grey]none[/]");
        }

        return table;
    }

    private static Panel Details(DeviceSnapshot d)
    {
        string body = d.OwnerSilo.Length == 0
            ? "reading…"
            : Invariant($"packets {d.Packets:N0}  bytes {d.Bytes:N0}  reports {d.Reports:N0}  rate {d.Rate:0.0}/s  score {d.AnomalyScore:0.0}  edges {d.Edges.Count}  sources {d.Sources.Count}  on silo {d.OwnerSilo}")
              + (d.Block is { } b ? Invariant($"\nblocked by {b.Origin}: {b.Reason} until {b.ExpiresAt:HH:mm:ss}; evidence: {string.Join("; ", b.Evidence)}") : "");
        return new Panel(Markup.Escape(body)).Header(Markup.Escape("device " + d.DeviceId));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
