using System.Globalization;
using System.Text;
using Klais.Edge.Configuration;
using Klais.Edge.Pipeline;

namespace Klais.Edge.Api;

/// <summary>
/// Prometheus text exposition (format 0.0.4) for <c>GET /metrics</c>. The OpenTelemetry Prometheus exporter does
/// not restore from our feed, so we write the format ourselves; it is read from live counters at scrape time.
/// </summary>
internal sealed class PrometheusText(EdgeConfig config, EdgeMetrics table, EdgePipeline pipeline)
{
    /// <summary>Every series of <paramref name="metrics"/> (the metrics table, <see cref="EdgeMetrics.All"/>, by default), then the latency summary.</summary>
    public string Write(IReadOnlyList<EdgeMetric>? metrics = null)
    {
        metrics ??= table.All;
        var sb = new StringBuilder(8192);
        string labels = $"node=\"{Escape(config.NodeId)}\"";
        string? family = null;
        foreach (EdgeMetric metric in metrics)
        {
            if (metric.Name != family)
            {
                Header(sb, metric.Name, metric.Type == MetricType.Counter ? "counter" : "gauge", metric.Help);
                family = metric.Name;
            }

            Sample(sb, metric.Name, metric.Label is { } label ? $"{labels},{label.Name}=\"{label.Value}\"" : labels, metric.Read());
        }

        LatencyHistogram h = pipeline.ReceiveToEnqueue;
        Header(sb, "klais_receive_to_enqueue_seconds", "summary", "Time from recvmmsg returning to the Dam's decision.");
        foreach (double q in (ReadOnlySpan<double>)[0.5, 0.9, 0.99, 0.999])
        {
            Sample(sb, "klais_receive_to_enqueue_seconds", $"{labels},quantile=\"{q.ToString(CultureInfo.InvariantCulture)}\"", h.QuantileNanos(q) / 1e9);
        }

        Sample(sb, "klais_receive_to_enqueue_seconds_sum", labels, h.SumSeconds);
        Sample(sb, "klais_receive_to_enqueue_seconds_count", labels, h.Count);
        return sb.ToString();
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
          .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder sb, string name, string labels, double value) =>
        sb.Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
