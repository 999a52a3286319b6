using Klais.Contracts.Security;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Hosting;
using Klais.Edge.Spill;
using Polly.CircuitBreaker;

namespace Klais.Edge.Api;

/// <summary>Writes <c>/health</c> and <c>/stats</c>. Field names are the documented contract (docs/edge.md).</summary>
internal static class EdgeStatsWriter
{
    /// <summary>Degradation levels of the design (section 3), by number.</summary>
    public static IReadOnlyList<string> DegradationNames => EdgeDegradation.Names;

    public static void WriteHealth(Utf8JsonWriter w, EdgeNode node)
    {
        EdgeDegradation degradation = node.Degradation;
        var warnings = new List<string>();
        if (node.EmbeddedCluster is not null)
        {
            warnings.Add("Kafka is an embedded in-memory dev cluster: not durable, records are lost when the edge exits. Set KLAIS_KAFKA_BOOTSTRAP.");
        }

        if (node.SpillIsTemporary)
        {
            warnings.Add("KLAIS_SPILL_DIR is unset: the spill is in a temporary directory; a Kafka outage's backlog does not survive a restart.");
        }

        if (node.Xdp.NotAttachedReason is { } xdpReason)
        {
            warnings.Add(xdpReason);
        }
        else if (!node.Xdp.Attached)
        {
            warnings.Add("XDP is off (KLAIS_XDP_IFACE is unset): every datagram is filtered in user space.");
        }

        if (node.Config.ApiTokens.IsOpen)
        {
            warnings.Add(ApiTokens.OpenWarning);
        }

        w.WriteString("status", degradation.Level == EdgeDegradation.Normal ? "ok" : "degraded");
        w.WriteNumber("degradation", degradation.Level);
        w.WriteString("degradation_name", degradation.Name);
        w.WriteStartArray("degradation_reasons");
        foreach (string reason in degradation.Reasons)
        {
            w.WriteStringValue(reason);
        }

        w.WriteEndArray();
        w.WriteNumber("queue_depth", node.Dam.QueueDepth);
        w.WriteNumber("rate_limit", node.Dam.CurrentRate);
        w.WriteNumber("burst_size", node.Dam.CurrentBurst);
        w.WriteNumber("policy_version", node.Control?.Applier.PolicyVersion ?? 0);
        w.WriteString("version", EdgeApi.Version);
        w.WriteString("node_id", node.Config.NodeId);
        w.WriteNumber("uptime_seconds", Math.Round(node.Time.GetElapsedTime(node.StartedAt).TotalSeconds, 1));
        w.WriteStartObject("kafka");
        w.WriteBoolean("embedded", node.EmbeddedCluster is not null);
        w.WriteBoolean("durable", node.EmbeddedCluster is null);
        w.WriteString("bootstrap", node.KafkaBootstrap);
        w.WriteString("topic", node.Config.KafkaTopic);
        w.WriteString("circuit", CircuitName(node.Circuit.State));
        w.WriteString("delivery", DeliveryName(node.Router.Mode));
        w.WriteEndObject();
        w.WriteStartObject("spill");
        w.WriteString("directory", node.Spill.Directory);
        w.WriteBoolean("temporary", node.SpillIsTemporary);
        w.WriteNumber("pending_records", node.Spill.PendingRecords);
        w.WriteNumber("bytes", node.Spill.Bytes);
        w.WriteNumber("max_bytes", node.Spill.Options.MaxBytes);
        w.WriteBoolean("full", node.Spill.IsFull);
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
        w.WriteNumber("uptime_seconds", Math.Round(node.Time.GetElapsedTime(node.StartedAt).TotalSeconds, 1));

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
        w.WriteNumber("queue_max_messages", node.Dam.QueueMaxMessages);
        w.WriteNumber("queue_max_bytes", node.Dam.QueueMaxBytes);
        w.WriteNumber("queue_scale", node.Dam.QueueScale);
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
        w.WriteNumber("returned", node.Producer.Returned);
        w.WriteNumber("returned_possibly_persisted", node.Producer.ReturnedPossiblyPersisted);
        w.WriteNumber("linger_ms", node.Producer.LingerMs);
        w.WriteNumber("held", node.Producer.Held);
        w.WriteBoolean("embedded", node.EmbeddedCluster is not null);
        w.WriteString("topic", node.Config.KafkaTopic);
        w.WriteEndObject();

        KafkaCircuit circuit = node.Circuit;
        w.WriteStartObject("circuit");
        w.WriteString("state", CircuitName(circuit.State));
        w.WriteNumber("state_seconds", Math.Round(circuit.TimeInState.TotalSeconds, 1));
        w.WriteNumber("opens", circuit.Opens);
        w.WriteNumber("probes", circuit.Probes);
        w.WriteNumber("samples", circuit.Samples);
        w.WriteNumber("failing_samples", circuit.FailingSamples);
        w.WriteBoolean("all_brokers_down", circuit.AllBrokersDown);
        w.WriteString("last_problem", circuit.LastProblem);
        w.WriteEndObject();

        SpillLog spill = node.Spill;
        w.WriteStartObject("spill");
        w.WriteString("delivery", DeliveryName(node.Router.Mode));
        w.WriteNumber("pending_records", spill.PendingRecords);
        w.WriteNumber("bytes", spill.Bytes);
        w.WriteNumber("segments", spill.SegmentCount);
        w.WriteNumber("spilled", node.Router.Spilled);
        w.WriteNumber("replayed", node.Router.Replayed);
        w.WriteNumber("replay_in_flight", node.Router.ReplayInFlight);
        w.WriteNumber("rewinds", node.Router.Rewinds);
        w.WriteNumber("episodes", node.Router.SpillEpisodes);
        w.WriteNumber("lost", node.Router.Lost);
        w.WriteNumber("full_refusals", spill.FullRefusals);
        w.WriteNumber("write_errors", spill.WriteErrors);
        w.WriteNumber("corrupt_records", spill.CorruptRecords);
        w.WriteNumber("truncated_tails", spill.TruncatedTails);
        w.WriteNumber("skipped_bytes", spill.SkippedBytes);
        w.WriteNumber("segments_deleted", spill.SegmentsDeleted);
        w.WriteNumber("fsyncs", spill.Fsyncs);
        w.WriteEndObject();

        DedupeTable dedupe = node.Dedupe;
        w.WriteStartObject("dedupe");
        w.WriteNumber("devices", dedupe.Devices);
        w.WriteNumber("capacity", dedupe.Capacity);
        w.WriteNumber("bytes_per_device", DedupeTable.BytesPerDevice);
        w.WriteNumber("gaps", dedupe.Gaps);
        w.WriteNumber("stale", dedupe.Stale);
        w.WriteNumber("resets", dedupe.Resets);
        w.WriteNumber("evicted_idle", dedupe.EvictedIdle);
        w.WriteNumber("evicted_active", dedupe.EvictedActive);
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

        // What the control plane has applied here (docs/edge.md, "Control plane"); nulls while nothing came.
        Control.EdgeControl? control = node.Control;
        w.WriteStartObject("control");
        w.WriteBoolean("enabled", control is not null);
        w.WriteNumber("current_rate", node.Dam.CurrentRate);
        w.WriteNumber("base_rate", control?.Applier.Policy.DamMaxRate ?? node.Config.DamMaxRate);
        WriteNumberOrNull(w, "burst_probability", control?.Applier.BurstProbability);
        w.WriteNumber("burst_level", control?.Applier.BurstLevel ?? 0);
        if (control?.Applier.BurstModel is { } model)
        {
            w.WriteStartObject("burst_model");
            w.WriteString("kind", model.Kind);
            WriteStringOrNull(w, "version", model.Version);
            WriteStringOrNull(w, "error", model.Error);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("burst_model");
        }

        w.WriteNull("anomaly_score");
        WriteNumberOrNull(w, "pid_output", control?.Applier.PidOutput);
        w.WriteNumber("queue_scale", node.Dam.QueueScale);
        w.WriteNumber("linger_advice_ms", control?.Applier.LingerMs ?? 0);
        w.WriteNumber("applied_version", control?.Applier.AppliedVersion ?? 0);
        w.WriteNumber("applied_policy_version", control?.Applier.PolicyVersion ?? 0);
        WritePolicy(w, node, control);
        w.WriteNumber("applied_updates", control?.Applier.Applied ?? 0);
        w.WriteNumber("ignored_updates", control?.Applier.Ignored ?? 0);
        w.WriteBoolean("caught_up", control?.CaughtUp.IsCompletedSuccessfully ?? false);
        w.WriteNumber("kafka_lag", control?.KafkaLag ?? node.Producer.InFlight + node.Dam.QueueDepth);
        w.WriteNumber("node_reports", control?.NodeReports ?? 0);
        w.WriteNumber("device_reports", control?.DeviceReports ?? 0);
        w.WriteNumber("votes", control?.Votes ?? 0);
        w.WriteNumber("interim_reports", control?.InterimReports ?? 0);
        w.WriteEndObject();
    }

    /// <summary>
    /// <c>control.policy</c>: the fleet policy in force (version 0: the configured settings), when it was applied, the
    /// value of every policy setting in force, and the newest version refused with its problems.
    /// </summary>
    private static void WritePolicy(Utf8JsonWriter w, EdgeNode node, Control.EdgeControl? control)
    {
        Control.EdgePolicy policy = control?.Applier.Policy ?? Control.EdgePolicy.Configured(node.Config);
        w.WriteStartObject("policy");
        w.WriteNumber("version", policy.Version);
        w.WriteNumber("applied_unix_ms", policy.AppliedUnixMs);
        w.WriteStartObject("settings");
        foreach ((string name, string value) in policy.Settings())
        {
            w.WriteNumber(name, double.Parse(value, System.Globalization.CultureInfo.InvariantCulture));
        }

        w.WriteEndObject();
        w.WriteNumber("rejected_version", control?.Applier.RejectedPolicyVersion ?? 0);
        string rejection = control?.Applier.PolicyRejection ?? "";
        if (rejection.Length == 0)
        {
            w.WriteNull("rejection");
        }
        else
        {
            w.WriteString("rejection", rejection);
        }

        w.WriteEndObject();
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, string name, string value)
    {
        if (value.Length > 0)
        {
            w.WriteString(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
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

    public static string CircuitName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.Open => "open",
        CircuitState.HalfOpen => "half_open",
        _ => "isolated",
    };

    public static string DeliveryName(DeliveryMode mode) => mode switch
    {
        DeliveryMode.Direct => "direct",
        DeliveryMode.Draining => "draining",
        _ => "spilling",
    };

    /// <summary>
    /// Rejections by reason: the parser's, plus the Dam's drops as <c>rate_limited</c> (a full overflow queue is
    /// the edge rate-limiting a datagram).
    /// </summary>
    public static long Rejected(EdgeNode node, Rejection reason) =>
        reason == Rejection.RateLimited ? node.Pipeline.Rejections[reason] + node.Dam.Dropped : node.Pipeline.Rejections[reason];
}
