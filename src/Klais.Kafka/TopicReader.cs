using System.Diagnostics;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>One record as it sits in Kafka.</summary>
public sealed record TopicRecord(
    byte[]? Key,
    byte[]? Value,
    IReadOnlyList<KeyValuePair<string, byte[]>> Headers,
    int Partition,
    long Offset,
    long TimestampUnixMs)
{
    /// <summary>The value of the last header named <paramref name="name"/>, or null.</summary>
    public byte[]? Header(string name)
    {
        for (int i = Headers.Count - 1; i >= 0; i--)
        {
            if (Headers[i].Key == name)
            {
                return Headers[i].Value;
            }
        }

        return null;
    }

    /// <summary>
    /// A telemetry record's KLAIS fields and the device's payload, whichever <see cref="RecordFormat"/> the edge wrote:
    /// the <c>seq</c>, <c>edge</c> and <c>ts</c> headers when present, else the envelope at the start of the value.
    /// Throws <see cref="FormatException"/> for a record that carries neither.
    /// </summary>
    public TelemetryFields Telemetry()
    {
        if (Header("seq") is { Length: 4 } seq && Header("ts") is { Length: 8 } ts && Header("edge") is { } edge)
        {
            return new TelemetryFields(RecordFormat.Headers, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(seq),
                System.Text.Encoding.UTF8.GetString(edge), System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(ts), Value ?? []);
        }

        if (TelemetryEnvelope.TryRead(Value, out TelemetryEnvelopeFields fields))
        {
            return new TelemetryFields(RecordFormat.Envelope, fields.Sequence, fields.EdgeText, fields.ReceivedUnixNanos, fields.Payload.ToArray());
        }

        throw new FormatException($"Record {Partition}/{Offset} has neither the seq, edge and ts headers nor an envelope.");
    }
}

/// <summary>What <see cref="TopicRecord.Telemetry"/> read: the format, the KLAIS fields and the device's payload.</summary>
public sealed record TelemetryFields(RecordFormat Format, uint Sequence, string Edge, long ReceivedUnixNanos, byte[] Payload);

/// <summary>
/// Reads a whole topic: every partition from the beginning, without a consumer group (nothing is
/// committed, nothing is rebalanced). For tests and the demo's "what reached Kafka" count, not for
/// production consumers. Records come back ordered by partition, then offset.
/// </summary>
public static class TopicReader
{
    /// <summary>
    /// Reads until <paramref name="expectedCount"/> records have arrived or <paramref name="timeout"/> passes,
    /// and returns what it has (check the count: fewer means the timeout expired).
    /// </summary>
    public static IReadOnlyList<TopicRecord> Read(string bootstrapServers, string topic, int expectedCount, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedCount);
        return ReadCore(bootstrapServers, topic, timeout, (records, _) => records.Count >= expectedCount);
    }

    /// <summary>
    /// Reads until every partition has been read to its end as of the moment it is reached (or
    /// <paramref name="timeout"/> passes): exactly what the topic holds, for "no more, no less" assertions.
    /// </summary>
    public static IReadOnlyList<TopicRecord> ReadToEnd(string bootstrapServers, string topic, TimeSpan timeout) =>
        ReadCore(bootstrapServers, topic, timeout, (_, partitionsAtEnd) => partitionsAtEnd);

    private static List<TopicRecord> ReadCore(
        string bootstrapServers, string topic, TimeSpan timeout, Func<List<TopicRecord>, bool, bool> done)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        Librdkafka.EnsureLoaded();
        var deadline = Stopwatch.StartNew();
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "klais-topic-reader", // required by the client, unused: partitions are assigned, never committed
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using IConsumer<byte[]?, byte[]?> consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetLogHandler((_, _) => { })
            .SetErrorHandler((_, _) => { })
            .Build();
        List<int> partitions = Partitions(consumer, topic, timeout);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));

        var records = new List<TopicRecord>();
        var atEnd = new HashSet<int>();
        while (!done(records, atEnd.Count == partitions.Count) && Remaining(deadline, timeout) is { } left)
        {
            ConsumeResult<byte[]?, byte[]?>? result = consumer.Consume(left);
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                atEnd.Add(result.Partition.Value);
                continue;
            }

            atEnd.Remove(result.Partition.Value);
            records.Add(ToRecord(result));
        }

        consumer.Close();
        records.Sort((a, b) => a.Partition != b.Partition ? a.Partition.CompareTo(b.Partition) : a.Offset.CompareTo(b.Offset));
        return records;
    }

    private static List<int> Partitions(IConsumer<byte[]?, byte[]?> consumer, string topic, TimeSpan timeout)
    {
        try
        {
            return TopicPartitions.Get(consumer.Handle, topic, timeout);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException("TopicReader: " + ex.Message, ex);
        }
    }

    private static TimeSpan? Remaining(Stopwatch elapsed, TimeSpan timeout)
    {
        TimeSpan left = timeout - elapsed.Elapsed;
        return left > TimeSpan.Zero ? left : null;
    }

    internal static TopicRecord ToRecord(ConsumeResult<byte[]?, byte[]?> result)
    {
        var headers = new List<KeyValuePair<string, byte[]>>(result.Message.Headers?.Count ?? 0);
        foreach (IHeader header in result.Message.Headers ?? [])
        {
            headers.Add(new(header.Key, header.GetValueBytes()));
        }

        return new TopicRecord(
            result.Message.Key,
            result.Message.Value,
            headers,
            result.Partition.Value,
            result.Offset.Value,
            result.Message.Timestamp.UnixTimestampMs);
    }
}
