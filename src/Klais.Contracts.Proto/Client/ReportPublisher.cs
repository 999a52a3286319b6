using Confluent.Kafka;
using Google.Protobuf;
using Klais.Kafka;

namespace Klais.Contracts.Proto;

/// <summary>
/// Writes records to klais.reports the way the silos expect them: a <see cref="ReportEnvelope"/> carrying the
/// schema version, this source's id and a sequence that only grows, keyed by grain key and sent to the partition
/// <see cref="GrainPartitioner"/> computes: edges' device and node reports. Thread-safe; <see cref="Produce"/> never blocks on the network.
/// </summary>
/// <remarks>
/// Sequences start at the current Unix time in microseconds and then grow by one per record (or jump to the clock
/// when it is ahead), so they keep growing across restarts of the source without any stored counter; a grain treats
/// a record whose sequence is not above the last one it saw from that source as a replay.
/// </remarks>
public sealed class ReportPublisher : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly bool _ownsProducer;
    private readonly TimeProvider _time;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onDelivery;
    private long _sequence;
    private long _delivered;
    private long _failed;
    private string? _lastError;

    /// <summary>A publisher with its own idempotent producer (acks=all, lz4, linger 5 ms).</summary>
    public ReportPublisher(string bootstrapServers, string sourceId, TimeProvider? time = null, string topic = ControlPlaneTopics.Reports)
        : this(BuildProducer(bootstrapServers, sourceId), ownsProducer: true, sourceId, time, topic)
    {
    }

    /// <summary>A publisher over a producer the caller owns (a silo shares one producer for every topic).</summary>
    /// <param name="producer">The producer the records go through.</param>
    /// <param name="sourceId">This source's id in every envelope.</param>
    /// <param name="time">The clock of sequences and timestamps.</param>
    /// <param name="topic">The reports topic.</param>
    /// <param name="cancellationToken">Ends the wait for the topic's partition count (up to 30 s when Kafka is away).</param>
    public ReportPublisher(IProducer<byte[], byte[]> producer, string sourceId, TimeProvider? time = null, string topic = ControlPlaneTopics.Reports,
        CancellationToken cancellationToken = default)
        : this(producer, ownsProducer: false, sourceId, time, topic, cancellationToken)
    {
    }

    private ReportPublisher(IProducer<byte[], byte[]> producer, bool ownsProducer, string sourceId, TimeProvider? time, string topic,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceId);
        _producer = producer;
        _ownsProducer = ownsProducer;
        SourceId = sourceId;
        Topic = topic;
        _time = time ?? TimeProvider.System;
        _sequence = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        _onDelivery = OnDelivery;
        try
        {
            Partitions = TopicPartitions.Get(producer.Handle, topic, TimeSpan.FromSeconds(30), cancellationToken).Count;
        }
        catch
        {
            if (ownsProducer)
            {
                producer.Dispose();
            }

            throw;
        }
    }

    public string SourceId { get; }

    public string Topic { get; }

    /// <summary>Partition count of the topic, read once from the cluster's metadata.</summary>
    public int Partitions { get; }

    /// <summary>Records acknowledged by Kafka.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Records Kafka did not take (after librdkafka's retries); <see cref="LastError"/> says why.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public string? LastError => Volatile.Read(ref _lastError);

    public void PublishDevice(DeviceReport report) =>
        Produce(GrainKey.Device(report.DeviceId), new ReportEnvelope { Device = report });

    public void PublishNode(NodeReport report) =>
        Produce(GrainKey.Node(report.NodeId), new ReportEnvelope { Node = report });

    /// <summary>Stamps <paramref name="envelope"/> (schema version, source, sequence, time) and hands it to librdkafka.</summary>
    public void Produce(GrainKey grain, ReportEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        envelope.SchemaVersion = Schema.Current;
        envelope.SourceId = SourceId;
        envelope.Sequence = NextSequence(now * 1000);
        envelope.SentUnixMs = now;
        string key = grain.ToString();
        var message = new Message<byte[], byte[]>
        {
            Key = System.Text.Encoding.UTF8.GetBytes(key),
            Value = envelope.ToByteArray(),
            Timestamp = new Timestamp(now, TimestampType.CreateTime),
        };
        _producer.Produce(new TopicPartition(Topic, GrainPartitioner.Partition(key, Partitions)), message, _onDelivery);
    }

    /// <summary>Waits until every record handed over so far is acknowledged or failed; false on timeout.</summary>
    public bool Flush(TimeSpan timeout) => _producer.Flush(timeout) == 0;

    public void Dispose()
    {
        if (_ownsProducer)
        {
            _producer.Dispose();
        }
    }

    private ulong NextSequence(long clockMicros)
    {
        while (true)
        {
            long current = Interlocked.Read(ref _sequence);
            long next = Math.Max(current + 1, clockMicros);
            if (Interlocked.CompareExchange(ref _sequence, next, current) == current)
            {
                return (ulong)next;
            }
        }
    }

    private void OnDelivery(DeliveryReport<byte[], byte[]> report)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            Volatile.Write(ref _lastError, report.Error.Reason);
        }
        else
        {
            Interlocked.Increment(ref _delivered);
        }
    }

    /// <summary>The producer a publisher of its own uses (idempotent, acks=all, lz4, linger 5 ms), for a caller that wants to own it.</summary>
    public static IProducer<byte[], byte[]> BuildProducer(string bootstrapServers, string sourceId)
    {
        Librdkafka.EnsureLoaded();
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "klais-reports-" + sourceId,
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType.Lz4,
            LingerMs = 5,
        };
        return new ProducerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
    }
}
