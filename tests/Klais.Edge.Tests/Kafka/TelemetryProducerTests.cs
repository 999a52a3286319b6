using System.Buffers.Binary;
using System.Text;
using Klais.Edge.Dam;
using Klais.Edge.Kafka;
using Klais.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Kafka;

/// <summary>Each test breaks brokers, so each has its own mock cluster (it starts in milliseconds).</summary>
public sealed class TelemetryProducerTests : IDisposable
{
    private const string Topic = "iot_telemetry";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly KafkaDevCluster _cluster = KafkaDevCluster.Start();

    public TelemetryProducerTests() => _cluster.CreateTopic(Topic, partitions: 1);

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public void Produced_record_carries_key_value_and_headers()
    {
        using TelemetryProducer producer = Producer();
        byte[] longKey = Encoding.ASCII.GetBytes(new string('k', 100));
        byte[] bigPayload = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();

        Assert.True(producer.TryDeliver(new Admitted("sensor-1"u8, 7, "{\"t\":21.5}"u8, 1_767_225_600_123_456_789)));
        Assert.True(producer.TryDeliver(new Admitted(longKey, uint.MaxValue, bigPayload, 42)));
        Assert.True(producer.Flush(Wait));
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, Topic, Wait);

        Assert.Equal(2, records.Count);
        Assert.Equal("sensor-1"u8.ToArray(), records[0].Key);
        Assert.Equal("{\"t\":21.5}"u8.ToArray(), records[0].Value);
        Assert.Equal(["seq", "edge", "ts"], records[0].Headers.Select(h => h.Key));
        Assert.Equal(new byte[] { 0, 0, 0, 7 }, records[0].Header("seq"));
        Assert.Equal("edge-a"u8.ToArray(), records[0].Header("edge"));
        Assert.Equal(1_767_225_600_123_456_789, BinaryPrimitives.ReadInt64BigEndian(records[0].Header("ts")));
        Assert.Equal(1_767_225_600_123, records[0].TimestampUnixMs);
        Assert.Equal(longKey, records[1].Key);
        Assert.Equal(bigPayload, records[1].Value);
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, records[1].Header("seq"));
        Assert.Equal(2, producer.Delivered);
    }

    [Fact]
    public void Two_producers_on_one_thread_each_send_their_own_edge_header()
    {
        using TelemetryProducer a = Producer();
        using TelemetryProducer b = Producer(o => o.NodeId = "edge-b");
        Assert.True(a.TryDeliver(new Admitted("d"u8, 1, "{}"u8, 1)));
        Assert.True(b.TryDeliver(new Admitted("d"u8, 2, "{}"u8, 2)));
        Assert.True(a.TryDeliver(new Admitted("d"u8, 3, "{}"u8, 3)));
        Assert.True(a.Flush(Wait) && b.Flush(Wait));

        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, Topic, Wait);
        Assert.Equal(["edge-a", "edge-b", "edge-a"], records.OrderBy(r => BinaryPrimitives.ReadUInt32BigEndian(r.Header("seq"))).Select(r => Encoding.UTF8.GetString(r.Header("edge")!)));
    }

    /// <summary>
    /// librdkafka sends each record from its in-flight slot, uncopied, so a slot reused too early would corrupt a record
    /// still queued: with 32 slots for 2,000 records of changing sizes (slots grow), each slot is reused dozens of times.
    /// </summary>
    [Theory]
    [InlineData(RecordFormat.Headers)]
    [InlineData(RecordFormat.Envelope)]
    public void Records_from_several_threads_arrive_intact_despite_reused_slots(RecordFormat format)
    {
        using TelemetryProducer producer = Producer(o => (o.RecordFormat, o.MaxInFlightMessages) = (format, 32));
        const int count = 2000;

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            (byte[] key, byte[] value) = Record(i);
            DateTime deadline = DateTime.UtcNow + Wait;
            while (!producer.TryDeliver(new Admitted(key, (uint)i, value, i)))
            {
                // At the cap: serve the reports that free slots (the event thread does too), then try again.
                Assert.True(DateTime.UtcNow < deadline, $"record {i} never found a free slot");
                producer.ServeReports();
            }
        });
        Assert.True(producer.Flush(Wait));
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, Topic, Wait);

        Assert.Equal(count, records.Count);
        Assert.All(records, r =>
        {
            TelemetryFields fields = r.Telemetry();
            Assert.Equal(format, fields.Format);
            int i = (int)fields.Sequence;
            (byte[] key, byte[] value) = Record(i);
            Assert.Equal(key, r.Key);
            Assert.Equal(value, fields.Payload);
            Assert.Equal(i, fields.ReceivedUnixNanos);
            Assert.Equal("edge-a", fields.Edge);
        });
        Assert.Equal(Enumerable.Range(0, count), records.Select(r => (int)r.Telemetry().Sequence).Order());
        Assert.Equal(count, producer.Delivered);
    }

    [Fact]
    public void In_flight_cap_returns_false_and_nothing_counts_as_delivered_while_brokers_are_down()
    {
        using TelemetryProducer producer = Producer(o => o.MaxInFlightMessages = 10);
        _cluster.SetAllBrokersDown();

        bool[] taken = Enumerable.Range(0, 12).Select(i => producer.TryDeliver(new Admitted("d"u8, (uint)i, "{}"u8, i))).ToArray();
        bool flushedWhileDown = producer.Flush(TimeSpan.FromMilliseconds(500));

        Assert.Equal([.. Enumerable.Repeat(true, 10), false, false], taken);
        Assert.False(flushedWhileDown);
        Assert.Equal(10, producer.InFlight);
        Assert.Equal(0, producer.Delivered);
        Assert.Equal(0, producer.Failed);

        _cluster.SetAllBrokersUp();
        Assert.True(producer.Flush(Wait));
        Assert.Equal(10, producer.Delivered);
        Assert.True(producer.TryDeliver(new Admitted("d"u8, 10, "{}"u8, 10)));
    }

    /// <summary>
    /// A receive thread slow to notice the stop can still offer and serve reports after the producer is closed: the
    /// record stays the caller's (false, nothing counted) and serving is a no-op, with no call into a freed client.
    /// </summary>
    [Fact]
    public void After_dispose_a_record_is_refused_and_not_counted_and_serving_reports_is_harmless()
    {
        TelemetryProducer producer = Producer();
        Assert.True(producer.TryDeliver(new Admitted("d"u8, 1, "{}"u8, 1)));
        Assert.True(producer.Flush(Wait));
        producer.Dispose();

        Assert.False(producer.TryDeliver(new Admitted("d"u8, 2, "{}"u8, 2)));
        producer.ServeReports();
        Assert.Equal((1L, 0L, 0L), (producer.Delivered, producer.Failed, producer.InFlight));
    }

    [Fact]
    public void Flush_returns_true_once_everything_is_delivered()
    {
        using TelemetryProducer producer = Producer();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(producer.TryDeliver(new Admitted("d"u8, (uint)i, "{\"v\":1}"u8, i)));
        }

        Assert.True(producer.Flush(Wait));
        Assert.Equal(1000, producer.Delivered);
        Assert.Equal(0, producer.InFlight);
        Assert.Equal(0, producer.Failed);
        Assert.Null(producer.LastError);
    }

    [Fact]
    public void Failed_counts_records_whose_message_timeout_expired()
    {
        using TelemetryProducer producer = Producer(o => o.MessageTimeoutMs = 300);
        _cluster.SetAllBrokersDown();
        for (int i = 0; i < 5; i++)
        {
            Assert.True(producer.TryDeliver(new Admitted("d"u8, (uint)i, "{}"u8, i)));
        }

        bool allDelivered = producer.Flush(Wait);

        Assert.False(allDelivered);
        Assert.Equal(5, producer.Failed);
        Assert.Equal(0, producer.Delivered);
        Assert.Equal(0, producer.InFlight);
        Assert.StartsWith("Local_MsgTimedOut", producer.LastError, StringComparison.Ordinal);
    }

    private TelemetryProducer Producer(Action<KafkaProducerOptions>? configure = null)
    {
        var options = new KafkaProducerOptions { BootstrapServers = _cluster.BootstrapServers, Topic = Topic, NodeId = "edge-a", LingerMs = 1 };
        configure?.Invoke(options);
        return new TelemetryProducer(options, NullLogger<TelemetryProducer>.Instance);
    }

    /// <summary>Record i: key and value lengths vary (some past the reuse limits), bytes derived from i.</summary>
    private static (byte[] Key, byte[] Value) Record(int i)
    {
        byte[] key = Encoding.ASCII.GetBytes($"dev-{i}-{new string('x', i % 80)}");
        byte[] value = new byte[(i * 37) % 3000];
        for (int b = 0; b < value.Length; b++)
        {
            value[b] = (byte)(i + b);
        }

        return (key, value);
    }
}
