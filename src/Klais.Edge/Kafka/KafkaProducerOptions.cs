using Confluent.Kafka;
using Klais.Kafka;

namespace Klais.Edge.Kafka;

/// <summary>Settings of the edge's <see cref="TelemetryProducer"/>. The edge's config layer binds and names them.</summary>
internal sealed class KafkaProducerOptions
{
    /// <summary>
    /// Longest linger, configured (<c>KLAIS_KAFKA_LINGER_MS</c>) or advised by the control plane: a minute. librdkafka
    /// takes up to 900,000 ms, but records held longer than a minute are no longer telemetry anyone waits for.
    /// </summary>
    public const int MaxLingerMs = 60_000;

    /// <summary>Most records in flight that may be configured (<c>KLAIS_KAFKA_MAX_IN_FLIGHT</c>).</summary>
    public const int MaxInFlightLimit = 10_000_000;

    /// <summary>Comma-separated host:port list (<c>KLAIS_KAFKA_BOOTSTRAP</c>).</summary>
    public string BootstrapServers { get; set; } = string.Empty;

    /// <summary>Telemetry topic (<c>KLAIS_KAFKA_TOPIC</c>).</summary>
    public string Topic { get; set; } = "iot_telemetry";

    /// <summary>This edge's id: the <c>edge</c> field of every record.</summary>
    public string NodeId { get; set; } = Environment.MachineName;

    /// <summary>Whether <c>seq</c>, <c>edge</c> and <c>ts</c> go in three headers or in an envelope before the payload (<c>KLAIS_KAFKA_RECORD_FORMAT</c>).</summary>
    public RecordFormat RecordFormat { get; set; } = RecordFormat.Headers;

    /// <summary>
    /// How long a batch waits for more records. 5 ms: at the default Dam rate (10k/s) a batch per
    /// partition gathers tens of records, enough for lz4 to pay off, for at most 5 ms of added latency.
    /// </summary>
    public int LingerMs { get; set; } = 5;

    /// <summary>Upper size of one batch (librdkafka <c>batch.size</c>); 1 MB is librdkafka's default and the broker's usual message.max.bytes.</summary>
    public int BatchSizeBytes { get; set; } = 1_000_000;

    /// <summary>
    /// Records handed to librdkafka and not yet acknowledged, at most. At this count
    /// <see cref="TelemetryProducer.TryDeliver"/> returns false and the Dam holds back, so memory is bounded
    /// by this times the largest record. 100k records of ~1 KB ≈ 100 MB; 10 s of the default rate.
    /// </summary>
    public int MaxInFlightMessages { get; set; } = 100_000;

    /// <summary>How long librdkafka tries to deliver a record before failing it (<c>message.timeout.ms</c>).</summary>
    public int MessageTimeoutMs { get; set; } = 30_000;

    public CompressionType Compression { get; set; } = CompressionType.Lz4;

    /// <summary>librdkafka statistics logged at Debug every this many ms; 0 turns them off.</summary>
    public int StatisticsIntervalMs { get; set; }

    /// <summary>Every problem with these settings, each naming the setting, its value and the rule; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            yield return $"`{nameof(KafkaProducerOptions)}.{nameof(BootstrapServers)}` is empty. It must list at least one host:port.";
        }

        if (!KafkaTopicName.IsValid(Topic))
        {
            yield return $"`{nameof(KafkaProducerOptions)}.{nameof(Topic)}` is '{Topic}'. {KafkaTopicName.Rule}";
        }

        if (string.IsNullOrWhiteSpace(NodeId))
        {
            yield return $"`{nameof(KafkaProducerOptions)}.{nameof(NodeId)}` is empty. It must name this edge.";
        }

        if (Range(nameof(LingerMs), LingerMs, 0, MaxLingerMs) is { } linger)
        {
            yield return linger;
        }

        if (Range(nameof(BatchSizeBytes), BatchSizeBytes, 1, int.MaxValue) is { } batch)
        {
            yield return batch;
        }

        if (Range(nameof(MaxInFlightMessages), MaxInFlightMessages, 1, MaxInFlightLimit) is { } inFlight)
        {
            yield return inFlight;
        }

        if (MessageTimeoutMs <= LingerMs || MessageTimeoutMs < 1)
        {
            yield return $"`{nameof(KafkaProducerOptions)}.{nameof(MessageTimeoutMs)}` is {MessageTimeoutMs}. It must be greater than 0 and than `{nameof(LingerMs)}` ({LingerMs}).";
        }

        if (!Enum.IsDefined(Compression))
        {
            yield return $"`{nameof(KafkaProducerOptions)}.{nameof(Compression)}` is {(int)Compression}. It must be one of {string.Join(", ", Enum.GetNames<CompressionType>())}.";
        }

        if (Range(nameof(StatisticsIntervalMs), StatisticsIntervalMs, 0, 86_400_000) is { } stats)
        {
            yield return stats;
        }
    }

    private static string? Range(string name, int value, int min, int max) =>
        value < min ? $"`{nameof(KafkaProducerOptions)}.{name}` is {value}. It must be {min} or greater."
        : value > max ? $"`{nameof(KafkaProducerOptions)}.{name}` is {value}. It must be {max} or less."
        : null;
}
