using Klais.Contracts.Wire;
using Klais.Edge.Control;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Spill;
using Klais.Edge.Xdp;
using Klais.Xdp;
using Polly.CircuitBreaker;

namespace Klais.Edge.Api;

internal enum MetricType
{
    Counter,
    Gauge,
}

/// <summary>
/// One number the edge exposes, declared once: its <c>/metrics</c> series (name, type, help, and a label for one member
/// of a family such as <c>klais_rejected_total{reason="…"}</c>), its unit, where <c>/stats</c> shows it
/// (<c>section.field</c>, or a top-level field), and where the value comes from. <see cref="StatsNames"/> makes
/// <c>/stats</c> show the name at the value's index instead of the number (the circuit's state is <c>"open"</c> there
/// and 1 in <c>/metrics</c>); <see cref="StatsBoolean"/> shows 0 and 1 as false and true.
/// </summary>
internal sealed record EdgeMetric(string Name, MetricType Type, string Unit, string StatsPath, string Help, Func<double> Read)
{
    /// <summary>The label that tells this member of its family from the others; null for a single series.</summary>
    public (string Name, string Value)? Label { get; init; }

    public IReadOnlyList<string>? StatsNames { get; init; }

    public bool StatsBoolean { get; init; }

    /// <summary>The object of <c>/stats</c> the value sits in; "" for a top-level field.</summary>
    public string StatsSection => StatsPath.IndexOf('.', StringComparison.Ordinal) is int dot and >= 0 ? StatsPath[..dot] : "";

    public string StatsField => StatsPath[(StatsPath.IndexOf('.', StringComparison.Ordinal) + 1)..];
}

/// <summary>
/// The edge's counters and gauges: <c>/stats</c> (<see cref="EdgeStatsWriter"/>) and <c>/metrics</c>
/// (<see cref="PrometheusText"/>) are both written from <see cref="All"/>, so a number cannot be in one and missing
/// from the other. Members of a family (same name, different label) stand next to each other. The receive-to-enqueue
/// latency is a distribution, not a number, and is written by both next to the table. Each entry reads the component
/// it shows; the table is built once, when the API (or a test) first asks for it.
/// </summary>
internal sealed class EdgeMetrics
{
    /// <param name="control">The control side; null when control is off (its counters read 0).</param>
    public EdgeMetrics(EdgeLifetime lifetime, EdgeHealth health, UdpReceiver receiver, EdgePipeline pipeline, Dam.Dam dam, TelemetryProducer producer,
        KafkaCircuit circuit, DeliveryRouter router, SpillLog spill, DedupeTable dedupe, EdgeXdp xdp, EdgeControl? control = null)
    {
        All = Build(lifetime, health, receiver, pipeline, dam, producer, circuit, router, spill, dedupe, xdp, control);
    }

    /// <summary>Every entry, in the order <c>/metrics</c> shows them.</summary>
    public IReadOnlyList<EdgeMetric> All { get; }

    /// <summary>Names of <see cref="CircuitState"/> in <c>/stats</c> and <c>/health</c>, by the number <c>/metrics</c> shows.</summary>
    public static IReadOnlyList<string> CircuitNames { get; } = ["closed", "open", "half_open", "isolated"];

    /// <summary>Names of <see cref="DeliveryMode"/> in <c>/stats</c> and <c>/health</c>, by its value.</summary>
    public static IReadOnlyList<string> DeliveryNames { get; } = ["direct", "draining", "spilling"];

    public static int CircuitNumber(CircuitState state) => state switch
    {
        CircuitState.Closed => 0,
        CircuitState.Open => 1,
        CircuitState.HalfOpen => 2,
        _ => 3,
    };

    private static EdgeMetric Counter(string name, string unit, string stats, string help, Func<double> read) =>
        new(name, MetricType.Counter, unit, stats, help, read);

    private static EdgeMetric Gauge(string name, string unit, string stats, string help, Func<double> read) =>
        new(name, MetricType.Gauge, unit, stats, help, read);

    private static List<EdgeMetric> Build(EdgeLifetime lifetime, EdgeHealth health, UdpReceiver receiver, EdgePipeline pipeline, Dam.Dam dam,
        TelemetryProducer producer, KafkaCircuit circuit, DeliveryRouter router, SpillLog spill, DedupeTable dedupe, EdgeXdp xdp, EdgeControl? control)
    {
        List<EdgeMetric> m =
        [
            Gauge("klais_uptime_seconds", "seconds", "uptime_seconds", "Seconds since the edge started.",
                () => lifetime.UptimeSeconds),
            Gauge("klais_degradation_level", "level", "degradation", "0 NORMAL, 1 DEGRADED_ML, 2 DEGRADED_KAFKA, 3 DEGRADED_FULL.", () => health.Degradation.Level),

            Gauge("klais_process_resident_bytes", "bytes", "process.resident_bytes", "Resident set of the edge process (VmRSS).", () => ProcessMemory.ResidentBytes()),
            Gauge("klais_gc_heap_bytes", "bytes", "process.gc_heap_bytes", "Managed objects on the GC heap now, uncollected garbage included.", () => ProcessMemory.GcHeapBytes()),
            Gauge("klais_gc_committed_bytes", "bytes", "process.gc_committed_bytes", "Memory the GC had committed at its last collection.", () => ProcessMemory.GcCommittedBytes()),

            Counter("klais_receive_datagrams_total", "datagrams", "receive.datagrams", "Datagrams read from the UDP sockets.", () => receiver.Datagrams),
            Counter("klais_receive_bytes_total", "bytes", "receive.bytes", "Bytes read from the UDP sockets.", () => receiver.Bytes),
            Counter("klais_receive_batches_total", "batches", "receive.batches", "recvmmsg calls that returned datagrams.", () => receiver.Batches),
            Counter("klais_receive_kernel_drops_total", "datagrams", "receive.kernel_drops", "Datagrams the kernel dropped at the receive sockets (queue full), as the kernel counts them per socket.", () => receiver.KernelDrops),
            Counter("klais_receive_truncated_total", "datagrams", "receive.truncated", "Datagrams longer than the receive buffer, cut by the kernel (also counted as rejected payload_too_large).", () => receiver.Truncated),
            Counter("klais_receive_handler_faults_total", "faults", "receive.handler_faults", "Exceptions thrown by the datagram handler; the batch continues with the next datagram.", () => receiver.HandlerFaults),
            Gauge("klais_receive_threads", "threads", "receive.threads", "Receive threads (KLAIS_RECEIVE_THREADS).", () => receiver.Threads),
            Gauge("klais_receive_buffer_bytes", "bytes", "receive.receive_buffer_bytes", "SO_RCVBUF read back from the first socket (the kernel reports twice the request).", () => receiver.ActualReceiveBufferBytes),

            Counter("klais_dam_received_total", "datagrams", "dam.received", "Datagrams offered to the Dam.", () => dam.Received),
            Counter("klais_dam_passed_total", "datagrams", "dam.passed", "Datagrams the Dam let through.", () => dam.Passed),
            Counter("klais_dam_queued_total", "datagrams", "dam.queued", "Datagrams put into the Dam's overflow queue.", () => dam.Queued),
            Counter("klais_dam_dropped_total", "datagrams", "dam.dropped", "Datagrams dropped because the overflow queue was full.", () => dam.Dropped),
            Gauge("klais_dam_queue_depth", "datagrams", "dam.queue_depth", "Datagrams waiting in the overflow queue.", () => dam.QueueDepth),
            Gauge("klais_dam_queue_bytes", "bytes", "dam.queue_bytes", "Bytes waiting in the overflow queue.", () => dam.QueueBytes),
            Gauge("klais_dam_queue_max_messages", "datagrams", "dam.queue_max_messages", "Overflow queue bound in datagrams now (configured bound times the control plane's queue scale).", () => dam.QueueMaxMessages),
            Gauge("klais_dam_queue_max_bytes", "bytes", "dam.queue_max_bytes", "Overflow queue bound in bytes now (configured bound times the control plane's queue scale).", () => dam.QueueMaxBytes),
            Gauge("klais_dam_queue_scale", "ratio", "dam.queue_scale", "The control plane's factor on the overflow queue's bounds (1: as configured).", () => dam.QueueScale),
            Gauge("klais_dam_tokens", "tokens", "dam.tokens", "Tokens available in the Dam's bucket.", () => dam.Tokens),
            Gauge("klais_dam_rate", "datagrams/s", "dam.rate", "Dam refill rate, datagrams per second.", () => dam.CurrentRate),
            Gauge("klais_dam_burst", "tokens", "dam.burst", "Dam bucket size.", () => dam.CurrentBurst),
        ];

        foreach (Rejection reason in RejectionNames.All)
        {
            m.Add(Counter("klais_rejected_total", "datagrams", "rejected." + reason.ToWireName(), "Datagrams not admitted, by reason.", () => Rejected(pipeline, dam, reason))
                with { Label = ("reason", reason.ToWireName()) });
        }

        m.AddRange(
        [
            Counter("klais_kafka_delivered_total", "records", "kafka.delivered", "Records Kafka acknowledged.", () => producer.Delivered),
            Counter("klais_kafka_failed_total", "records", "kafka.failed", "Records whose delivery failed for good.", () => producer.Failed),
            Gauge("klais_kafka_in_flight", "records", "kafka.in_flight", "Records handed to librdkafka and not yet acknowledged.", () => producer.InFlight),
            Counter("klais_kafka_returned_total", "records", "kafka.returned", "Records librdkafka gave back undelivered (purged, timed out) and the edge spilled or replayed again.", () => producer.Returned),
            Counter("klais_kafka_returned_possibly_persisted_total", "records", "kafka.returned_possibly_persisted", "Of those, records the broker may have written anyway (sending them again may duplicate).", () => producer.ReturnedPossiblyPersisted),
            Gauge("klais_kafka_linger_ms", "milliseconds", "kafka.linger_ms", "Linger in force: KLAIS_KAFKA_LINGER_MS, or the longer one the control plane advised (held by the edge).", () => producer.LingerMs),
            Gauge("klais_kafka_held", "records", "kafka.held", "Records held back by the linger advice (counted in flight, not yet in librdkafka).", () => producer.Held),

            Gauge("klais_circuit_state", "state", "circuit.state", "Kafka circuit breaker: 0 closed, 1 open, 2 half-open, 3 isolated.", () => CircuitNumber(circuit.State))
                with { StatsNames = CircuitNames },
            Gauge("klais_circuit_state_seconds", "seconds", "circuit.state_seconds", "Seconds the Kafka circuit has been in its state.", () => Math.Round(circuit.TimeInState.TotalSeconds, 1)),
            Counter("klais_circuit_opens_total", "opens", "circuit.opens", "Times the Kafka circuit opened.", () => circuit.Opens),
            Counter("klais_circuit_probes_total", "probes", "circuit.probes", "Half-open trials that asked Kafka itself whether it answers.", () => circuit.Probes),
            Counter("klais_circuit_samples_total", "samples", "circuit.samples", "Delivery health samples recorded (idle ones, with nothing sent, are not).", () => circuit.Samples),
            Counter("klais_circuit_failing_samples_total", "samples", "circuit.failing_samples", "Recorded samples that found delivery failing or stalled.", () => circuit.FailingSamples),
            Gauge("klais_circuit_all_brokers_down", "boolean", "circuit.all_brokers_down", "1 while librdkafka reports every broker down.", () => circuit.AllBrokersDown ? 1 : 0)
                with { StatsBoolean = true },

            Gauge("klais_delivery_mode", "mode", "spill.delivery", "0 direct to Kafka, 1 taking records back from librdkafka, 2 spilling or replaying.", () => (int)router.Mode)
                with { StatsNames = DeliveryNames },
            Gauge("klais_spill_pending_records", "records", "spill.pending_records", "Records in the spill not yet acknowledged by Kafka.", () => spill.PendingRecords),
            Gauge("klais_spill_bytes", "bytes", "spill.bytes", "Bytes of the spill's segment files.", () => spill.Bytes),
            Gauge("klais_spill_max_bytes", "bytes", "spill.max_bytes", "KLAIS_SPILL_MAX_BYTES.", () => spill.Options.MaxBytes),
            Gauge("klais_spill_segments", "segments", "spill.segments", "Segment files of the spill.", () => spill.SegmentCount),
            Counter("klais_spill_spilled_total", "records", "spill.spilled", "Records written to the spill.", () => router.Spilled),
            Counter("klais_spill_replayed_total", "records", "spill.replayed", "Records handed from the spill to Kafka (again after a rewind).", () => router.Replayed),
            Gauge("klais_spill_replay_in_flight", "records", "spill.replay_in_flight", "Replayed records not yet acknowledged by Kafka.", () => router.ReplayInFlight),
            Counter("klais_spill_rewinds_total", "rewinds", "spill.rewinds", "Times the replay went back to the oldest unacknowledged record.", () => router.Rewinds),
            Counter("klais_spill_episodes_total", "episodes", "spill.episodes", "Times the edge switched from direct delivery to the spill.", () => router.SpillEpisodes),
            Counter("klais_spill_lost_total", "records", "spill.lost", "Admitted records refused because the spill was full or failing.", () => router.Lost),
            Counter("klais_spill_full_refusals_total", "records", "spill.full_refusals", "Spill writes refused because KLAIS_SPILL_MAX_BYTES was reached.", () => spill.FullRefusals),
            Counter("klais_spill_write_errors_total", "writes", "spill.write_errors", "Failed spill writes.", () => spill.WriteErrors),
            Counter("klais_spill_corrupt_records_total", "records", "spill.corrupt_records", "Damaged spill records found and skipped.", () => spill.CorruptRecords),
            Counter("klais_spill_truncated_tails_total", "segments", "spill.truncated_tails", "Spill segments found with a torn last record.", () => spill.TruncatedTails),
            Counter("klais_spill_skipped_bytes_total", "bytes", "spill.skipped_bytes", "Bytes after a damaged or torn spill record that were not replayed.", () => spill.SkippedBytes),
            Counter("klais_spill_segments_deleted_total", "segments", "spill.segments_deleted", "Spill segments deleted once Kafka acknowledged all of them.", () => spill.SegmentsDeleted),
            Counter("klais_spill_fsyncs_total", "fsyncs", "spill.fsyncs", "fsync calls on the spill.", () => spill.Fsyncs),

            Gauge("klais_dedupe_devices", "devices", "dedupe.devices", "Devices whose sequence window the edge holds.", () => dedupe.Devices),
            Gauge("klais_dedupe_capacity", "devices", "dedupe.capacity", "Devices the dedupe table can hold (KLAIS_DEDUPE_MAX_DEVICES, rounded up).", () => dedupe.Capacity),
            Gauge("klais_dedupe_bytes_per_device", "bytes", "dedupe.bytes_per_device", "Memory one device's entry takes in the dedupe table.", () => DedupeTable.BytesPerDevice),
            Gauge("klais_dedupe_huge_pages", "boolean", "dedupe.huge_pages", "1 when the dedupe table is advised into transparent huge pages (fewer TLB misses per lookup); 0 when it is smaller than one or the kernel refused.", () => dedupe.InHugePages ? 1 : 0),
            Counter("klais_dedupe_gaps_total", "sequences", "dedupe.gaps", "Sequence numbers that left their device's window unseen: loss before the edge.", () => dedupe.Gaps),
            Counter("klais_dedupe_stale_total", "datagrams", "dedupe.stale", "Datagrams older than their device's window (also counted as duplicates).", () => dedupe.Stale),
            Counter("klais_dedupe_resets_total", "devices", "dedupe.resets", "Devices re-anchored: a sequence jump of more than 65536, or only stale datagrams for a while.", () => dedupe.Resets),
            Counter("klais_dedupe_evicted_idle_total", "devices", "dedupe.evicted_idle", "Idle devices forgotten to make room for new ones.", () => dedupe.EvictedIdle),
            Counter("klais_dedupe_evicted_active_total", "devices", "dedupe.evicted_active", "Active devices forgotten because their table set was full.", () => dedupe.EvictedActive),

            Gauge("klais_xdp_attached", "boolean", "xdp.attached", "1 when the XDP program is attached.", () => xdp.Attached ? 1 : 0) with { StatsBoolean = true },
        ]);

        foreach ((string outcome, Func<XdpStatistics, XdpCounter> counter) in (ReadOnlySpan<(string, Func<XdpStatistics, XdpCounter>)>)
            [("passed", s => s.Passed), ("dropped_size", s => s.DroppedSize), ("dropped_magic", s => s.DroppedMagic),
             ("dropped_blocked", s => s.DroppedBlocked), ("dropped_rate", s => s.DroppedRate), ("not_klais", s => s.NotKlais)])
        {
            m.Add(Counter("klais_xdp_packets_total", "packets", "xdp." + outcome, "Packets the XDP program decided on, by outcome (passed and not_klais go on to the stack).",
                () => xdp.ReadStatistics() is { } statistics ? counter(statistics).Packets : 0) with { Label = ("outcome", outcome) });
        }

        foreach ((string kind, XdpEventKind value) in (ReadOnlySpan<(string, XdpEventKind)>)
            [("first_seen", XdpEventKind.FirstSeen), ("blocked", XdpEventKind.Blocked), ("rate_limited", XdpEventKind.RateLimited)])
        {
            m.Add(Counter("klais_xdp_events_total", "events", "xdp.events_" + kind, "Events the XDP program sent to user space, by kind.", () => xdp.EventCount(value))
                with { Label = ("kind", kind) });
        }

        m.AddRange(
        [
            Counter("klais_xdp_events_lost_total", "events", "xdp.events_lost", "XDP events lost in the ring buffer or dropped in user space.",
                () => xdp.ReadStatistics() is { } statistics ? (long)statistics.EventsLost + statistics.EventsDroppedInUserSpace : 0),

            Counter("klais_control_applied_updates_total", "updates", "control.applied_updates", "klais.control records applied.", () => control?.Applier.Applied ?? 0),
            Counter("klais_control_ignored_updates_total", "updates", "control.ignored_updates", "klais.control records that could not be applied (bad device id or rate).", () => control?.Applier.Ignored ?? 0),
            Gauge("klais_control_kafka_lag", "records", "control.kafka_lag", "Records handed to librdkafka and not yet acknowledged, plus the Dam's queue (the lag node reports carry).",
                () => control?.KafkaLag ?? producer.InFlight + dam.QueueDepth),
            Counter("klais_control_node_reports_total", "reports", "control.node_reports", "Node reports sent to klais.reports.", () => control?.NodeReports ?? 0),
            Counter("klais_control_device_reports_total", "reports", "control.device_reports", "Device reports sent to klais.reports.", () => control?.DeviceReports ?? 0),
            Counter("klais_control_votes_total", "votes", "control.votes", "Suspicion votes sent with device reports.", () => control?.Votes ?? 0),
            Counter("klais_control_interim_reports_total", "reports", "control.interim_reports", "Device reports sent before their window ended (suspects and heavy hitters).", () => control?.InterimReports ?? 0),
        ]);
        return m;
    }

    /// <summary>
    /// Rejections by reason: the parser's, plus the Dam's drops as <c>rate_limited</c> (a full overflow queue is
    /// the edge rate-limiting a datagram).
    /// </summary>
    private static long Rejected(EdgePipeline pipeline, Dam.Dam dam, Rejection reason) =>
        reason == Rejection.RateLimited ? pipeline.Rejections[reason] + dam.Dropped : pipeline.Rejections[reason];
}
