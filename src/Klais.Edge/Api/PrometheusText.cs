using System.Globalization;
using System.Text;
using Klais.Contracts.Wire;
using Klais.Edge.Hosting;
using Polly.CircuitBreaker;

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
        Counter(sb, "klais_receive_kernel_drops_total", "Datagrams the kernel dropped at the receive sockets (queue full), as the kernel counts them per socket.", labels, node.Receiver.KernelDrops);
        Counter(sb, "klais_dam_received_total", "Datagrams offered to the Dam.", labels, node.Dam.Received);
        Counter(sb, "klais_dam_passed_total", "Datagrams the Dam let through.", labels, node.Dam.Passed);
        Counter(sb, "klais_dam_queued_total", "Datagrams put into the Dam's overflow queue.", labels, node.Dam.Queued);
        Counter(sb, "klais_dam_dropped_total", "Datagrams dropped because the overflow queue was full.", labels, node.Dam.Dropped);
        Gauge(sb, "klais_dam_queue_depth", "Datagrams waiting in the overflow queue.", labels, node.Dam.QueueDepth);
        Gauge(sb, "klais_dam_queue_bytes", "Bytes waiting in the overflow queue.", labels, node.Dam.QueueBytes);
        Gauge(sb, "klais_dam_queue_max_messages", "Overflow queue bound in datagrams now (configured bound times the control plane's queue scale).", labels, node.Dam.QueueMaxMessages);
        Gauge(sb, "klais_dam_queue_max_bytes", "Overflow queue bound in bytes now (configured bound times the control plane's queue scale).", labels, node.Dam.QueueMaxBytes);
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
        Counter(sb, "klais_kafka_returned_total", "Records librdkafka gave back undelivered (purged, timed out) and the edge spilled or replayed again.", labels, node.Producer.Returned);
        Counter(sb, "klais_kafka_returned_possibly_persisted_total", "Of those, records the broker may have written anyway (sending them again may duplicate).", labels, node.Producer.ReturnedPossiblyPersisted);
        Gauge(sb, "klais_kafka_linger_ms", "Linger in force: KLAIS_KAFKA_LINGER_MS, or the longer one the control plane advised (held by the edge).", labels, node.Producer.LingerMs);
        Gauge(sb, "klais_degradation_level", "0 NORMAL, 1 DEGRADED_ML, 2 DEGRADED_KAFKA, 3 DEGRADED_FULL.", labels, node.Degradation.Level);
        Gauge(sb, "klais_circuit_state", "Kafka circuit breaker: 0 closed, 1 open, 2 half-open, 3 isolated.", labels, CircuitNumber(node.Circuit.State));
        Counter(sb, "klais_circuit_opens_total", "Times the Kafka circuit opened.", labels, node.Circuit.Opens);
        Gauge(sb, "klais_delivery_mode", "0 direct to Kafka, 1 taking records back from librdkafka, 2 spilling or replaying.", labels, (int)node.Router.Mode);
        Gauge(sb, "klais_spill_pending_records", "Records in the spill not yet acknowledged by Kafka.", labels, node.Spill.PendingRecords);
        Gauge(sb, "klais_spill_bytes", "Bytes of the spill's segment files.", labels, node.Spill.Bytes);
        Gauge(sb, "klais_spill_max_bytes", "KLAIS_SPILL_MAX_BYTES.", labels, node.Spill.Options.MaxBytes);
        Counter(sb, "klais_spill_spilled_total", "Records written to the spill.", labels, node.Router.Spilled);
        Counter(sb, "klais_spill_replayed_total", "Records handed from the spill to Kafka (again after a rewind).", labels, node.Router.Replayed);
        Counter(sb, "klais_spill_lost_total", "Admitted records refused because the spill was full or failing.", labels, node.Router.Lost);
        Counter(sb, "klais_spill_corrupt_records_total", "Damaged spill records found and skipped.", labels, node.Spill.CorruptRecords);
        Counter(sb, "klais_spill_truncated_tails_total", "Spill segments found with a torn last record.", labels, node.Spill.TruncatedTails);
        Counter(sb, "klais_spill_write_errors_total", "Failed spill writes.", labels, node.Spill.WriteErrors);
        Gauge(sb, "klais_dedupe_devices", "Devices whose sequence window the edge holds.", labels, node.Dedupe.Devices);
        Counter(sb, "klais_dedupe_gaps_total", "Sequence numbers that left their device's window unseen: loss before the edge.", labels, node.Dedupe.Gaps);
        Counter(sb, "klais_dedupe_evicted_active_total", "Active devices forgotten because their table set was full.", labels, node.Dedupe.EvictedActive);
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

    private static int CircuitNumber(CircuitState state) => state switch
    {
        CircuitState.Closed => 0,
        CircuitState.Open => 1,
        CircuitState.HalfOpen => 2,
        _ => 3,
    };

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
