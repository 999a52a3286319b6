using System.Diagnostics;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Hosting;

namespace Klais.Edge.Api;

/// <summary>Writes <c>/health</c> and <c>/stats</c>. Field names are the documented contract (docs/edge.md).</summary>
internal static class EdgeStatsWriter
{
    /// <summary>Degradation levels of the design; only NORMAL is reachable until the spill and XDP work land.</summary>
    public static readonly string[] DegradationNames = ["NORMAL", "DEGRADED_ML", "DEGRADED_KAFKA", "DEGRADED_FULL"];

    public static void WriteHealth(Utf8JsonWriter w, EdgeNode node)
    {
        const int degradation = 0;
        var warnings = new List<string>();
        if (node.EmbeddedCluster is not null)
        {
            warnings.Add("Kafka is an embedded in-memory dev cluster: not durable, records are lost when the edge exits. Set KLAIS_KAFKA_BOOTSTRAP.");
        }

        if (node.Xdp.NotAttachedReason is { } xdpReason)
        {
            warnings.Add(xdpReason);
        }
        else if (!node.Xdp.Attached)
        {
            warnings.Add("XDP is off (KLAIS_XDP_IFACE is unset): every datagram is filtered in user space.");
        }

        w.WriteString("status", degradation == 0 ? "ok" : "degraded");
        w.WriteNumber("degradation", degradation);
        w.WriteString("degradation_name", DegradationNames[degradation]);
        w.WriteNumber("queue_depth", node.Dam.QueueDepth);
        w.WriteNumber("rate_limit", node.Dam.CurrentRate);
        w.WriteNumber("burst_size", node.Dam.CurrentBurst);
        w.WriteString("version", EdgeApi.Version);
        w.WriteString("node_id", node.Config.NodeId);
        w.WriteNumber("uptime_seconds", Math.Round(Stopwatch.GetElapsedTime(node.StartedAt).TotalSeconds, 1));
        w.WriteStartObject("kafka");
        w.WriteBoolean("embedded", node.EmbeddedCluster is not null);
        w.WriteBoolean("durable", node.EmbeddedCluster is null);
        w.WriteString("bootstrap", node.KafkaBootstrap);
        w.WriteString("topic", node.Config.KafkaTopic);
        w.WriteEndObject();
        w.WriteStartObject("xdp");
        WriteXdpState(w, node);
        w.WriteEndObject();
        w.WriteStartArray("warnings");
        foreach (string warning in warnings)
        {
            w.WriteStringValue(warning);
        }

        w.WriteEndArray();
    }

    public static void WriteStats(Utf8JsonWriter w, EdgeNode node)
    {
        w.WriteString("node_id", node.Config.NodeId);
        w.WriteNumber("uptime_seconds", Math.Round(Stopwatch.GetElapsedTime(node.StartedAt).TotalSeconds, 1));

        w.WriteStartObject("receive");
        w.WriteNumber("datagrams", node.Receiver.Datagrams);
        w.WriteNumber("bytes", node.Receiver.Bytes);
        w.WriteNumber("batches", node.Receiver.Batches);
        w.WriteNumber("kernel_drops", node.Receiver.KernelDrops);
        w.WriteNumber("truncated", node.Receiver.Truncated);
        w.WriteNumber("handler_faults", node.Receiver.HandlerFaults);
        w.WriteNumber("threads", node.Receiver.Threads);
        w.WriteNumber("receive_buffer_bytes", node.Receiver.ActualReceiveBufferBytes);
        w.WriteEndObject();

        w.WriteStartObject("dam");
        w.WriteNumber("received", node.Dam.Received);
        w.WriteNumber("passed", node.Dam.Passed);
        w.WriteNumber("queued", node.Dam.Queued);
        w.WriteNumber("dropped", node.Dam.Dropped);
        w.WriteNumber("queue_depth", node.Dam.QueueDepth);
        w.WriteNumber("queue_bytes", node.Dam.QueueBytes);
        w.WriteNumber("tokens", node.Dam.Tokens);
        w.WriteNumber("rate", node.Dam.CurrentRate);
        w.WriteNumber("burst", node.Dam.CurrentBurst);
        w.WriteEndObject();

        w.WriteStartObject("rejected");
        foreach (Rejection reason in RejectionNames.All)
        {
            w.WriteNumber(reason.ToWireName(), Rejected(node, reason));
        }

        w.WriteEndObject();

        w.WriteStartObject("kafka");
        w.WriteNumber("delivered", node.Producer.Delivered);
        w.WriteNumber("failed", node.Producer.Failed);
        w.WriteNumber("in_flight", node.Producer.InFlight);
        w.WriteBoolean("embedded", node.EmbeddedCluster is not null);
        w.WriteString("topic", node.Config.KafkaTopic);
        w.WriteEndObject();

        Pipeline.LatencyHistogram latency = node.Pipeline.ReceiveToEnqueue;
        w.WriteStartObject("latency");
        w.WriteNumber("receive_to_enqueue_count", latency.Count);
        w.WriteNumber("receive_to_enqueue_p50_us", latency.QuantileNanos(0.50) / 1000.0);
        w.WriteNumber("receive_to_enqueue_p99_us", latency.QuantileNanos(0.99) / 1000.0);
        w.WriteNumber("receive_to_enqueue_p999_us", latency.QuantileNanos(0.999) / 1000.0);
        w.WriteEndObject();

        w.WriteStartObject("xdp");
        WriteXdpState(w, node);
        Klais.Xdp.XdpStatistics? xdp = node.Xdp.ReadStatistics();
        w.WriteNumber("passed", xdp?.Passed.Packets ?? 0);
        w.WriteNumber("dropped_size", xdp?.DroppedSize.Packets ?? 0);
        w.WriteNumber("dropped_magic", xdp?.DroppedMagic.Packets ?? 0);
        w.WriteNumber("dropped_blocked", xdp?.DroppedBlocked.Packets ?? 0);
        w.WriteNumber("dropped_rate", xdp?.DroppedRate.Packets ?? 0);
        w.WriteNumber("not_klais", xdp?.NotKlais.Packets ?? 0);
        w.WriteNumber("events_first_seen", node.Xdp.EventCount(Klais.Xdp.XdpEventKind.FirstSeen));
        w.WriteNumber("events_blocked", node.Xdp.EventCount(Klais.Xdp.XdpEventKind.Blocked));
        w.WriteNumber("events_rate_limited", node.Xdp.EventCount(Klais.Xdp.XdpEventKind.RateLimited));
        w.WriteNumber("events_lost", (long)(xdp?.EventsLost ?? 0) + (xdp?.EventsDroppedInUserSpace ?? 0));
        w.WriteEndObject();

        // The control plane fills these once it exists; the edge's own rate is known now.
        w.WriteStartObject("control");
        w.WriteNumber("current_rate", node.Dam.CurrentRate);
        w.WriteNull("burst_probability");
        w.WriteNull("anomaly_score");
        w.WriteNull("pid_output");
        w.WriteEndObject();
    }

    private static void WriteXdpState(Utf8JsonWriter w, EdgeNode node)
    {
        w.WriteBoolean("attached", node.Xdp.Attached);
        w.WriteString("mode", node.Xdp.Mode);
        if (node.Xdp.Interface is { } iface)
        {
            w.WriteString("interface", iface);
        }

        if (node.Xdp.NotAttachedReason is { } reason)
        {
            w.WriteString("reason", reason);
        }
    }

    /// <summary>
    /// Rejections by reason: the parser's, plus the Dam's drops as <c>rate_limited</c> (a full overflow queue is
    /// the edge rate-limiting a datagram).
    /// </summary>
    public static long Rejected(EdgeNode node, Rejection reason) =>
        reason == Rejection.RateLimited ? node.Pipeline.Rejections[reason] + node.Dam.Dropped : node.Pipeline.Rejections[reason];
}
