using System.Globalization;
using System.Text;
using Klais.Contracts.Wire;
using Klais.Edge.Hosting;

namespace Klais.Edge.Api;

/// <summary>
/// Prometheus text exposition (format 0.0.4) for <c>GET /metrics</c>. The OpenTelemetry Prometheus exporter does
/// not restore from our feed, so we write the format ourselves; it is read from live counters at scrape time.
/// </summary>
internal static class PrometheusText
{
    public static string Write(EdgeNode node)
    {
        var sb = new StringBuilder(4096);
        string labels = $"node=\"{Escape(node.Config.NodeId)}\"";

        Counter(sb, "klais_receive_datagrams_total", "Datagrams read from the UDP sockets.", labels, node.Receiver.Datagrams);
        Counter(sb, "klais_receive_bytes_total", "Bytes read from the UDP sockets.", labels, node.Receiver.Bytes);
        Counter(sb, "klais_receive_kernel_drops_total", "Datagrams the kernel dropped because a socket's receive queue was full (SO_RXQ_OVFL).", labels, node.Receiver.KernelDrops);
        Counter(sb, "klais_dam_received_total", "Datagrams offered to the Dam.", labels, node.Dam.Received);
        Counter(sb, "klais_dam_passed_total", "Datagrams the Dam let through.", labels, node.Dam.Passed);
        Counter(sb, "klais_dam_queued_total", "Datagrams put into the Dam's overflow queue.", labels, node.Dam.Queued);
        Counter(sb, "klais_dam_dropped_total", "Datagrams dropped because the overflow queue was full.", labels, node.Dam.Dropped);
        Gauge(sb, "klais_dam_queue_depth", "Datagrams waiting in the overflow queue.", labels, node.Dam.QueueDepth);
        Gauge(sb, "klais_dam_queue_bytes", "Bytes waiting in the overflow queue.", labels, node.Dam.QueueBytes);
        Gauge(sb, "klais_dam_tokens", "Tokens available in the Dam's bucket.", labels, node.Dam.Tokens);
        Gauge(sb, "klais_dam_rate", "Dam refill rate, datagrams per second.", labels, node.Dam.CurrentRate);
        Gauge(sb, "klais_dam_burst", "Dam bucket size.", labels, node.Dam.CurrentBurst);

        Header(sb, "klais_rejected_total", "counter", "Datagrams not admitted, by reason.");
        foreach (Rejection reason in RejectionNames.All)
        {
            Sample(sb, "klais_rejected_total", $"{labels},reason=\"{reason.ToWireName()}\"", EdgeStatsWriter.Rejected(node, reason));
        }

        Counter(sb, "klais_kafka_delivered_total", "Records Kafka acknowledged.", labels, node.Producer.Delivered);
        Counter(sb, "klais_kafka_failed_total", "Records whose delivery failed for good.", labels, node.Producer.Failed);
        Gauge(sb, "klais_kafka_in_flight", "Records handed to librdkafka and not yet acknowledged.", labels, node.Producer.InFlight);
        Gauge(sb, "klais_degradation_level", "0 NORMAL, 1 DEGRADED_ML, 2 DEGRADED_KAFKA, 3 DEGRADED_FULL.", labels, 0);
        Gauge(sb, "klais_xdp_attached", "1 when the XDP program is attached.", labels, node.Xdp.Attached ? 1 : 0);
        if (node.Xdp.ReadStatistics() is { } xdp)
        {
            Header(sb, "klais_xdp_packets_total", "counter", "Packets the XDP program decided on, by outcome (passed and not_klais go on to the stack).");
            foreach ((string outcome, Klais.Xdp.XdpCounter c) in (ReadOnlySpan<(string, Klais.Xdp.XdpCounter)>)
                [("passed", xdp.Passed), ("dropped_size", xdp.DroppedSize), ("dropped_magic", xdp.DroppedMagic),
                 ("dropped_blocked", xdp.DroppedBlocked), ("dropped_rate", xdp.DroppedRate), ("not_klais", xdp.NotKlais)])
            {
                Sample(sb, "klais_xdp_packets_total", $"{labels},outcome=\"{outcome}\"", c.Packets);
            }
        }

        Pipeline.LatencyHistogram h = node.Pipeline.ReceiveToEnqueue;
        Header(sb, "klais_receive_to_enqueue_seconds", "summary", "Time from recvmmsg returning to the Dam's decision.");
        foreach (double q in (ReadOnlySpan<double>)[0.5, 0.9, 0.99, 0.999])
        {
            Sample(sb, "klais_receive_to_enqueue_seconds", $"{labels},quantile=\"{q.ToString(CultureInfo.InvariantCulture)}\"", h.QuantileNanos(q) / 1e9);
        }

        Sample(sb, "klais_receive_to_enqueue_seconds_sum", labels, h.SumSeconds);
        Sample(sb, "klais_receive_to_enqueue_seconds_count", labels, h.Count);
        return sb.ToString();
    }

    private static void Counter(StringBuilder sb, string name, string help, string labels, double value)
    {
        Header(sb, name, "counter", help);
        Sample(sb, name, labels, value);
    }

    private static void Gauge(StringBuilder sb, string name, string help, string labels, double value)
    {
        Header(sb, name, "gauge", help);
        Sample(sb, name, labels, value);
    }

    private static void Header(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
          .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder sb, string name, string labels, double value) =>
        sb.Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
