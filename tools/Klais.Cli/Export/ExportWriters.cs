using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Client;
using Klais.Grains;

namespace Klais.Cli.Export;

/// <summary>The three formats of <c>klais export</c>: one JSON document, three CSV files, one self-contained HTML page.</summary>
internal static class ExportWriters
{
    private static readonly JsonSerializerOptions Indented = new(KlaisApiClient.Json) { WriteIndented = true };

    public static void Json(FleetExport export, string path)
    {
        using FileStream file = File.Create(path);
        JsonSerializer.Serialize(file, export, Indented);
    }

    /// <summary><c>nodes.csv</c>, <c>anomalies.csv</c> and <c>blocks.csv</c> in <paramref name="directory"/> (RFC 4180 quoting).</summary>
    public static void Csv(FleetExport export, string directory)
    {
        Directory.CreateDirectory(directory);
        WriteCsv(Path.Combine(directory, "nodes.csv"),
            ["node_id", "health", "last_report", "received_per_second", "passed_per_second", "dropped_per_second", "kafka_lag", "degradation_level", "applied_control_version", "applied_policy_version", "active_devices"],
            export.Nodes.Select(n => new object[] { n.NodeId, n.Health, n.LastReport, n.ReceivedPerSecond, n.PassedPerSecond, n.DroppedPerSecond, n.KafkaLag, n.DegradationLevel, n.AppliedControlVersion, n.AppliedPolicyVersion, n.ActiveDevices }));
        WriteCsv(Path.Combine(directory, "anomalies.csv"),
            ["device_id", "blocked", "anomaly_score", "votes", "reason", "expires_at", "updated_at", "owner_silo"],
            export.Anomalies.Select(a => new object?[] { a.DeviceId, a.Blocked, a.AnomalyScore, a.Votes, a.Reason, a.ExpiresAt, a.UpdatedAt, a.OwnerSilo }));
        WriteCsv(Path.Combine(directory, "blocks.csv"),
            ["at", "kind", "grain", "detail", "silo"],
            export.Blocks.Select(e => new object[] { e.At, e.Kind, e.Grain, e.Detail, e.Silo }));
    }

    /// <summary>One HTML file with no outside reference: tables, and inline SVG charts of the nodes' rates and of blocks over the range.</summary>
    public static void Html(FleetExport export, string path)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>KLAIS export ")
            .Append(Encode(Stamp(export.From))).Append(" – ").Append(Encode(Stamp(export.To))).Append("</title><style>")
            .Append("body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}.blocked{color:#b00}")
            .Append("svg text{font:11px system-ui,sans-serif}</style></head><body>");
        html.Append("<h1>KLAIS fleet export</h1><p>").Append(Encode($"{Stamp(export.From)} to {Stamp(export.To)}, read from {export.Silo} at {Stamp(export.ExportedAt)}"))
            .Append(Encode($": {export.Nodes.Count} nodes, {export.Anomalies.Count} anomalies, {export.Blocks.Count(b => b.Kind == "block")} blocks."))
            .Append("</p>");

        html.Append("<h2>Nodes</h2>");
        html.Append(BarChart("received per second, by node", export.Nodes.Select(n => (n.NodeId, n.ReceivedPerSecond)).ToList()));
        Table(html, ["node", "health", "last report", "recv/s", "pass/s", "drop/s", "Kafka lag", "degradation", "control v", "policy v"],
            export.Nodes.Select(n => new[] { n.NodeId, n.Health, Stamp(n.LastReport), Number(n.ReceivedPerSecond), Number(n.PassedPerSecond), Number(n.DroppedPerSecond), Number(n.KafkaLag), Number(n.DegradationLevel), Number(n.AppliedControlVersion), Number(n.AppliedPolicyVersion) }));

        html.Append("<h2>Blocks</h2>");
        html.Append(BarChart("blocks per tenth of the range", Buckets(export)));
        Table(html, ["at", "kind", "device", "detail"], export.Blocks.Select(e => new[] { Stamp(e.At), e.Kind, e.Grain, e.Detail }));

        html.Append("<h2>Anomalies</h2>");
        Table(html, ["device", "state", "score", "votes", "reason", "expires"],
            export.Anomalies.Select(a => new[] { a.DeviceId, a.Blocked ? "blocked" : "watched", a.AnomalyScore.ToString("0.0", CultureInfo.InvariantCulture), Number(a.Votes), a.Reason ?? "", a.ExpiresAt is { } x ? Stamp(x) : "" }));
        html.Append("</body></html>\n");
        File.WriteAllText(path, html.ToString());
    }

    private static List<(string Label, double Value)> Buckets(FleetExport export)
    {
        const int Count = 10;
        TimeSpan width = (export.To - export.From) / Count;
        var buckets = new List<(string, double)>(Count);
        for (int i = 0; i < Count; i++)
        {
            DateTimeOffset start = export.From + (width * i);
            DateTimeOffset end = i == Count - 1 ? export.To : start + width;
            buckets.Add((start.ToString("HH:mm", CultureInfo.InvariantCulture), export.Blocks.Count(b => b.Kind == "block" && b.At >= start && (b.At < end || (i == Count - 1 && b.At <= end)))));
        }

        return buckets;
    }

    private static string BarChart(string title, List<(string Label, double Value)> bars)
    {
        const int Height = 120, BarWidth = 48, Gap = 12;
        double max = bars.Count == 0 ? 1 : Math.Max(1, bars.Max(b => b.Value));
        int width = Math.Max(200, bars.Count * (BarWidth + Gap) + Gap);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{Height + 40}\" role=\"img\" aria-label=\"{Encode(title)}\">");
        for (int i = 0; i < bars.Count; i++)
        {
            double h = bars[i].Value / max * Height;
            int x = Gap + (i * (BarWidth + Gap));
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"{Height - h + 14:0.#}\" width=\"{BarWidth}\" height=\"{h:0.#}\" fill=\"#4a7bd0\"><title>{Encode($"{bars[i].Label}: {Number(bars[i].Value)}")}</title></rect>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x}\" y=\"{Height + 30}\">{Encode(bars[i].Label)}</text>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x}\" y=\"{Height - h + 11:0.#}\">{Encode(Number(bars[i].Value))}</text>");
        }

        svg.Append("</svg><figcaption>").Append(Encode(title)).Append("</figcaption></figure>");
        return svg.ToString();
    }

    private static void Table(StringBuilder html, string[] columns, IEnumerable<string[]> rows)
    {
        html.Append("<table><tr>");
        foreach (string column in columns)
        {
            html.Append("<th>").Append(Encode(column)).Append("</th>");
        }

        html.Append("</tr>");
        foreach (string[] row in rows)
        {
            html.Append(row.Length > 1 && row[1] == "blocked" ? "<tr class=\"blocked\">" : "<tr>");
            foreach (string cell in row)
            {
                html.Append("<td>").Append(Encode(cell)).Append("</td>");
            }

            html.Append("</tr>");
        }

        html.Append("</table>");
    }

    private static void WriteCsv(string path, string[] header, IEnumerable<object?[]> rows)
    {
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        writer.Write(string.Join(',', header));
        writer.Write("\r\n");
        foreach (object?[] row in rows)
        {
            writer.Write(string.Join(',', row.Select(Field)));
            writer.Write("\r\n");
        }
    }

    private static string Field(object? value)
    {
        string text = value switch
        {
            null => "",
            DateTimeOffset at => Stamp(at),
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        return text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }

    private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("#,0.##", CultureInfo.InvariantCulture);

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
