using System.Text.Json;
using Klais.Contracts.Security;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Delivery;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Spill;
using Klais.Edge.Xdp;
using Polly.CircuitBreaker;

namespace Klais.Edge.Api;

/// <summary>
/// Writes <c>/health</c> and <c>/stats</c> from the components they show. Field names are the documented contract
/// (docs/edge.md).
/// </summary>
/// <param name="control">The control side; null when control is off.</param>
internal sealed class EdgeStatsWriter(
    EdgeConfig config, EdgeMetrics table, EdgeLifetime lifetime, EdgeHealth health, KafkaEndpoint kafka, SpillDirectory spillDirectory, Dam.Dam dam,
    KafkaCircuit circuit, DeliveryRouter router, SpillLog spill, EdgePipeline pipeline, EdgeXdp xdp, EdgeControl? control = null)
{
    public void WriteHealth(Utf8JsonWriter w)
    {
        EdgeDegradation degradation = health.Degradation;
        var warnings = new List<string>();
        if (kafka.IsEmbedded)
        {
            warnings.Add("Kafka is an embedded in-memory dev cluster: not durable, records are lost when the edge exits. Set KLAIS_KAFKA_BOOTSTRAP.");
        }

        if (spillDirectory.IsTemporary)
        {
            warnings.Add("KLAIS_SPILL_DIR is unset: the spill is in a temporary directory; a Kafka outage's backlog does not survive a restart.");
        }

        if (xdp.NotAttachedReason is { } xdpReason)
        {
            warnings.Add(xdpReason);
        }
        else if (!xdp.Attached)
        {
            warnings.Add("XDP is off (KLAIS_XDP_IFACE is unset): every datagram is filtered in user space.");
        }

        if (config.ApiTokens.IsOpen)
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
        w.WriteNumber("queue_depth", dam.QueueDepth);
        w.WriteNumber("rate_limit", dam.CurrentRate);
        w.WriteNumber("burst_size", dam.CurrentBurst);
        w.WriteNumber("policy_version", control?.Applier.PolicyVersion ?? 0);
        w.WriteString("version", EdgeApi.Version);
        w.WriteString("node_id", config.NodeId);
        w.WriteNumber("uptime_seconds", lifetime.UptimeSeconds);
        w.WriteStartObject("kafka");
        w.WriteBoolean("embedded", kafka.IsEmbedded);
        w.WriteBoolean("durable", !kafka.IsEmbedded);
        w.WriteString("bootstrap", kafka.Bootstrap);
        w.WriteString("topic", config.KafkaTopic);
        w.WriteString("circuit", CircuitName(circuit.State));
        w.WriteString("delivery", DeliveryName(router.Mode));
        w.WriteEndObject();
        w.WriteStartObject("spill");
        w.WriteString("directory", spill.Directory);
        w.WriteBoolean("temporary", spillDirectory.IsTemporary);
        w.WriteNumber("pending_records", spill.PendingRecords);
        w.WriteNumber("bytes", spill.Bytes);
        w.WriteNumber("max_bytes", spill.Options.MaxBytes);
        w.WriteBoolean("full", spill.IsFull);
        w.WriteEndObject();
        w.WriteStartObject("xdp");
        WriteXdpState(w);
        w.WriteEndObject();
        w.WriteStartArray("warnings");
        foreach (string warning in warnings)
        {
            w.WriteStringValue(warning);
        }

        w.WriteEndArray();
    }

    /// <summary>Objects of <c>/stats</c> in the order they are written; a section new to the table goes after them.</summary>
    private static readonly string[] Sections = ["process", "receive", "dam", "rejected", "kafka", "circuit", "spill", "dedupe", "latency", "xdp", "control"];

    /// <summary>
    /// <c>/stats</c>: every number of <paramref name="metrics"/> (the metrics table, <see cref="EdgeMetrics.All"/>) at its
    /// path, plus what is not a counter: names, settings, the latency distribution and the control plane's state.
    /// </summary>
    public void WriteStats(Utf8JsonWriter w, IReadOnlyList<EdgeMetric>? metrics = null)
    {
        metrics ??= table.All;
        w.WriteString("node_id", config.NodeId);
        WriteMetrics(w, metrics, "");
        foreach (string section in Sections.Concat(metrics.Select(m => m.StatsSection).Where(s => s.Length > 0).Distinct().Except(Sections)))
        {
            w.WriteStartObject(section);
            WriteMetrics(w, metrics, section);
            switch (section)
            {
                case "kafka":
                    w.WriteBoolean("embedded", kafka.IsEmbedded);
                    w.WriteString("topic", config.KafkaTopic);
                    break;
                case "circuit":
                    w.WriteString("last_problem", circuit.LastProblem);
                    break;
                case "latency":
                    LatencyHistogram latency = pipeline.ReceiveToEnqueue;
                    w.WriteNumber("receive_to_enqueue_count", latency.Count);
                    w.WriteNumber("receive_to_enqueue_p50_us", latency.QuantileNanos(0.50) / 1000.0);
                    w.WriteNumber("receive_to_enqueue_p99_us", latency.QuantileNanos(0.99) / 1000.0);
                    w.WriteNumber("receive_to_enqueue_p999_us", latency.QuantileNanos(0.999) / 1000.0);
                    break;
                case "xdp":
                    WriteXdpState(w, attached: false);
                    break;
                case "control":
                    WriteControl(w);
                    break;
            }

            w.WriteEndObject();
        }
    }

    private static void WriteMetrics(Utf8JsonWriter w, IReadOnlyList<EdgeMetric> metrics, string section)
    {
        foreach (EdgeMetric metric in metrics)
        {
            if (metric.StatsSection != section)
            {
                continue;
            }

            double value = metric.Read();
            if (metric.StatsNames is { } names)
            {
                w.WriteString(metric.StatsField, names[Math.Clamp((int)value, 0, names.Count - 1)]);
            }
            else if (metric.StatsBoolean)
            {
                w.WriteBoolean(metric.StatsField, value != 0);
            }
            else if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
            {
                w.WriteNumber(metric.StatsField, (long)value); // counters read as integers, never in exponent form
            }
            else
            {
                w.WriteNumber(metric.StatsField, value);
            }
        }
    }

    /// <summary>What the control plane has applied here (docs/edge.md, "Control plane"); nulls while nothing came.</summary>
    private void WriteControl(Utf8JsonWriter w)
    {
        w.WriteBoolean("enabled", control is not null);
        w.WriteNumber("current_rate", dam.CurrentRate);
        w.WriteNumber("base_rate", control?.Applier.Policy.DamMaxRate ?? config.DamMaxRate);
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
        w.WriteNumber("queue_scale", dam.QueueScale);
        w.WriteNumber("linger_advice_ms", control?.Applier.LingerMs ?? 0);
        w.WriteNumber("applied_version", control?.Applier.AppliedVersion ?? 0);
        w.WriteNumber("applied_policy_version", control?.Applier.PolicyVersion ?? 0);
        WritePolicy(w);
        w.WriteBoolean("caught_up", control?.CaughtUp.IsCompletedSuccessfully ?? false);
    }

    /// <summary>
    /// <c>control.policy</c>: the fleet policy in force (version 0: the configured settings), when it was applied, the
    /// value of every policy setting in force, and the newest version refused with its problems.
    /// </summary>
    private void WritePolicy(Utf8JsonWriter w)
    {
        EdgePolicy policy = control?.Applier.Policy ?? EdgePolicy.Configured(config);
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

    private void WriteXdpState(Utf8JsonWriter w, bool attached = true)
    {
        if (attached)
        {
            w.WriteBoolean("attached", xdp.Attached); // in /stats it comes from the metrics table
        }

        w.WriteString("mode", xdp.Mode);
        if (xdp.Interface is { } iface)
        {
            w.WriteString("interface", iface);
        }

        if (xdp.NotAttachedReason is { } reason)
        {
            w.WriteString("reason", reason);
        }
    }

    public static string CircuitName(CircuitState state) => EdgeMetrics.CircuitNames[EdgeMetrics.CircuitNumber(state)];

    public static string DeliveryName(DeliveryMode mode) => EdgeMetrics.DeliveryNames[(int)mode];
}
