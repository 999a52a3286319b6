using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Klais.Kafka.Tests;

/// <summary>The librdkafka-direct producer writes what the edge writes, and reports every record with its opaque.</summary>
[Collection(KafkaClusterTests.Name)]
public sealed class NativeProducerTests(KafkaClusterFixture fixture)
{
    private readonly KafkaDevCluster _cluster = fixture.Cluster;

    [Fact]
    public void Records_carry_key_value_timestamp_and_the_three_headers_and_every_report_comes_back_once_with_its_opaque()
    {
        _cluster.CreateTopic("native-produce", partitions: 3);
        using var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "5",
        }, "native-produce", "edge-7");

        const int count = 500;
        for (int i = 0; i < count; i++)
        {
            byte[] value = Encoding.UTF8.GetBytes($"{{\"i\":{i},\"pad\":\"{new string('x', i % 37)}\"}}");
            Assert.Equal(0, producer.Produce(Encoding.UTF8.GetBytes($"dev-{i % 10:000}"), value, (uint)(1000 + i), 1_767_225_600_000_000_000L + (i * 1_000_000L), opaque: 10_000 + i));
        }

        var events = new Events();
        DateTime deadline = DateTime.UtcNow + TestProducer.Wait;
        while (events.Reports.Count < count && DateTime.UtcNow < deadline)
        {
            producer.Poll(100, events);
        }

        Assert.Equal(Enumerable.Range(10_000, count).Select(i => (long)i), events.Reports.Select(r => r.Opaque).Order());
        Assert.All(events.Reports, r => Assert.Equal((0, 2), (r.Error, r.Status)));
        Assert.Equal(0, producer.OutQueueLength);

        IReadOnlyList<TopicRecord> records = TopicReader.Read(_cluster.BootstrapServers, "native-produce", count, TestProducer.Wait);
        Assert.Equal(count, records.Count);
        foreach (TopicRecord r in records)
        {
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(r.Header("seq"));
            int i = (int)seq - 1000;
            Assert.Equal($"dev-{i % 10:000}", Encoding.UTF8.GetString(r.Key!));
            Assert.Equal($"{{\"i\":{i},\"pad\":\"{new string('x', i % 37)}\"}}", Encoding.UTF8.GetString(r.Value!));
            Assert.Equal("edge-7", Encoding.UTF8.GetString(r.Header("edge")!));
            Assert.Equal(1_767_225_600_000_000_000L + (i * 1_000_000L), BinaryPrimitives.ReadInt64BigEndian(r.Header("ts")));
            Assert.Equal(1_767_225_600_000L + i, r.TimestampUnixMs);
        }
    }

    [Fact]
    public void In_the_envelope_format_records_carry_no_headers_and_the_value_starts_with_seq_ts_and_edge()
    {
        _cluster.CreateTopic("native-envelope", partitions: 2);
        using var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "5",
        }, "native-envelope", "edge-ü7", RecordFormat.Envelope);
        Assert.Equal(RecordFormat.Envelope, producer.Format);

        // Payloads from empty to past the first buffer's 2,048 bytes, so the per-thread buffer grows once.
        const int count = 300;
        for (int i = 0; i < count; i++)
        {
            byte[] value = Encoding.UTF8.GetBytes(i == 0 ? string.Empty : $"{{\"i\":{i},\"pad\":\"{new string('x', i * 10)}\"}}");
            Assert.Equal(0, producer.Produce(Encoding.UTF8.GetBytes($"dev-{i % 10:000}"), value, (uint)(5000 + i), 1_767_225_600_000_000_000L + (i * 1_000_000L), opaque: i));
        }

        var events = new Events();
        DateTime deadline = DateTime.UtcNow + TestProducer.Wait;
        while (events.Reports.Count < count && DateTime.UtcNow < deadline)
        {
            producer.Poll(100, events);
        }

        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), events.Reports.Select(r => r.Opaque).Order());
        IReadOnlyList<TopicRecord> records = TopicReader.Read(_cluster.BootstrapServers, "native-envelope", count, TestProducer.Wait);
        Assert.Equal(count, records.Count);
        foreach (TopicRecord r in records)
        {
            Assert.Empty(r.Headers);
            Assert.Equal(TelemetryEnvelope.Version, r.Value![0]);
            TelemetryFields fields = r.Telemetry();
            int i = (int)fields.Sequence - 5000;
            Assert.Equal(RecordFormat.Envelope, fields.Format);
            Assert.Equal($"dev-{i % 10:000}", Encoding.UTF8.GetString(r.Key!));
            Assert.Equal(i == 0 ? string.Empty : $"{{\"i\":{i},\"pad\":\"{new string('x', i * 10)}\"}}", Encoding.UTF8.GetString(fields.Payload));
            Assert.Equal("edge-ü7", fields.Edge);
            Assert.Equal(1_767_225_600_000_000_000L + (i * 1_000_000L), fields.ReceivedUnixNanos);
            Assert.Equal(1_767_225_600_000L + i, r.TimestampUnixMs);
            Assert.Equal(TelemetryEnvelope.PrefixLength("edge-ü7"u8.Length) + fields.Payload.Length, r.Value.Length);
        }
    }

    /// <summary>
    /// An uncopied record is read from the caller's memory when librdkafka builds the request, not when it is produced:
    /// the value changed after the call (within the linger) is what Kafka gets, while the key was copied at once.
    /// </summary>
    [Theory]
    [InlineData(RecordFormat.Headers)]
    [InlineData(RecordFormat.Envelope)]
    public unsafe void An_uncopied_value_is_sent_from_the_callers_memory_and_the_key_is_copied(RecordFormat format)
    {
        string topic = $"native-uncopied-{format}".ToLowerInvariant();
        _cluster.CreateTopic(topic, partitions: 1);
        using var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "1000",
        }, topic, "edge-7", format);
        Assert.Equal(format == RecordFormat.Envelope ? TelemetryEnvelope.PrefixLength("edge-7"u8.Length) : 0, producer.ValuePrefixLength);

        ReadOnlySpan<byte> before = "{\"v\":1}"u8;
        int length = producer.ValuePrefixLength + before.Length;
        byte* value = (byte*)NativeMemory.Alloc((nuint)length);
        try
        {
            var span = new Span<byte>(value, length);
            producer.WriteValuePrefix(span, 77, 1_767_225_600_000_000_000L);
            before.CopyTo(span[producer.ValuePrefixLength..]);
            byte[] key = "dev-1"u8.ToArray();
            Assert.Equal(0, producer.ProduceUncopied(key, value, length, 77, 1_767_225_600_000_000_000L, opaque: 5));
            "{\"v\":2}"u8.CopyTo(span[producer.ValuePrefixLength..]);
            key[4] = (byte)'9';

            var events = new Events();
            DateTime deadline = DateTime.UtcNow + TestProducer.Wait;
            while (events.Reports.Count < 1 && DateTime.UtcNow < deadline)
            {
                producer.Poll(100, events);
            }

            Assert.Equal([new NativeDeliveryReport(5, 0, 2)], events.Reports);
        }
        finally
        {
            NativeMemory.Free(value);
        }

        TopicRecord record = Assert.Single(TopicReader.Read(_cluster.BootstrapServers, topic, 1, TestProducer.Wait));
        TelemetryFields fields = record.Telemetry();
        Assert.Equal((format, 77u, "edge-7", 1_767_225_600_000_000_000L), (fields.Format, fields.Sequence, fields.Edge, fields.ReceivedUnixNanos));
        Assert.Equal("{\"v\":2}", Encoding.UTF8.GetString(fields.Payload));
        Assert.Equal("dev-1", Encoding.UTF8.GetString(record.Key!));
    }

    [Fact]
    public void The_probe_sees_the_topic_and_its_leaders_and_says_why_it_fails_without_a_broker()
    {
        _cluster.CreateTopic("native-probe", partitions: 2);
        using var producer = new NativeProducer(new Dictionary<string, string> { ["bootstrap.servers"] = _cluster.BootstrapServers }, "native-probe", "edge-7");
        Assert.True(producer.ProbeTopic(TestProducer.Wait, out string problem), problem);
        Assert.Equal(string.Empty, problem);

        // Nothing listens on the discard port: no broker answers within the probe's time.
        using var unreachable = new NativeProducer(new Dictionary<string, string> { ["bootstrap.servers"] = "127.0.0.1:9" }, "native-probe", "edge-7");
        Assert.False(unreachable.ProbeTopic(TimeSpan.FromSeconds(1), out problem));
        Assert.NotEqual(string.Empty, problem);
    }

    [Fact]
    public void Purged_records_come_back_as_events_with_the_purge_error_and_not_persisted()
    {
        _cluster.CreateTopic("native-purge", partitions: 1);
        using var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "60000",
        }, "native-purge", "edge-7");
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(0, producer.Produce("dev-1"u8, "{}"u8, (uint)i, 0, opaque: i));
        }

        Assert.Equal(0, producer.Purge(inFlight: true));
        var events = new Events();
        DateTime deadline = DateTime.UtcNow + TestProducer.Wait;
        while (events.Reports.Count < 20 && DateTime.UtcNow < deadline)
        {
            producer.Poll(100, events);
        }

        // Sorted: records still waiting for the topic's metadata (the first produce asks for it) are purged from
        // another queue than those already given a partition, so their reports may come in another order.
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), events.Reports.Select(r => r.Opaque).Order());
        Assert.All(events.Reports, r => Assert.Equal((-152, 0), (r.Error, r.Status))); // RD_KAFKA_RESP_ERR__PURGE_QUEUE, not persisted
    }

    /// <summary>
    /// A stop can dispose the producer while a receive thread still produces and serves reports (a thread slow to
    /// notice the stop on a loaded machine). Those calls must neither touch a destroyed client (a crash of the whole
    /// process) nor throw: they answer "destroyed" and "no event". Repeated, since the race is one of timing; in every
    /// other round the producing thread holds the client open 64 records at a time, as a receive thread does.
    /// </summary>
    [Fact]
    public void Dispose_during_produce_and_poll_on_other_threads_answers_destroyed_and_never_touches_a_freed_client()
    {
        _cluster.CreateTopic("native-dispose-race", partitions: 2);
        for (int round = 0; round < 20; round++)
        {
            var producer = new NativeProducer(new Dictionary<string, string>
            {
                ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "1",
            }, "native-dispose-race", "edge-7");
            using var started = new CountdownEvent(2);
            int destroyedAnswers = 0;
            int unexpected = 0;
            int pollAfterDispose = 0;
            bool holding = round % 2 == 1;   // as a receive thread produces: the client held for 64 records at a time
            var producing = new Thread(() =>
            {
                started.Signal();
                for (uint i = 0; ; i++)
                {
                    if (holding && i % 64 == 0)
                    {
                        producer.EndHold();
                        producer.BeginHold();
                    }

                    int error = producer.Produce("dev-1"u8, "{}"u8, i, 0, opaque: i);
                    if (error == NativeProducer.Destroyed)
                    {
                        producer.EndHold();
                        Interlocked.Increment(ref destroyedAnswers);
                        return;
                    }

                    if (error is not (0 or -184)) // taken, or __QUEUE_FULL
                    {
                        unexpected = error;
                    }
                }
            });
            var polling = new Thread(() =>
            {
                var events = new Events();
                started.Signal();
                while (!producer.IsDisposed)
                {
                    producer.Poll(1, events);
                    _ = producer.OutQueueLength;
                }

                pollAfterDispose = producer.Poll(1, events);
            });
            producing.Start();
            polling.Start();
            started.Wait();
            Thread.Sleep(round % 5);
            producer.Dispose();

            Assert.True(producing.Join(TestProducer.Wait));
            Assert.True(polling.Join(TestProducer.Wait));
            Assert.Equal((1, 0, -1), (destroyedAnswers, unexpected, pollAfterDispose));
            Assert.Equal(NativeProducer.Destroyed, producer.Produce("dev-1"u8, "{}"u8, 0, 0, opaque: 0));
            Assert.Equal(0, producer.OutQueueLength);
            Assert.Equal((NativeProducer.Destroyed, NativeProducer.Destroyed), (producer.Purge(inFlight: true), producer.Flush(10)));
            Assert.Null(producer.FatalError());
            Assert.False(producer.ProbeTopic(TimeSpan.FromMilliseconds(10), out string problem));
            Assert.Equal("producer disposed", problem);
        }
    }

    /// <summary>
    /// A hold keeps the client of a producer disposed meanwhile alive until it ends: produce answers "destroyed" at once,
    /// and the client is freed only at the end of the hold. A thread holds one producer at a time.
    /// </summary>
    [Fact]
    public void A_thread_holding_the_client_sees_a_dispose_at_once_and_the_client_is_freed_when_the_hold_ends()
    {
        _cluster.CreateTopic("native-hold", partitions: 1);
        var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "1",
        }, "native-hold", "edge-7");
        var other = new NativeProducer(new Dictionary<string, string> { ["bootstrap.servers"] = _cluster.BootstrapServers }, "native-hold", "edge-8");

        Assert.True(producer.BeginHold());
        Assert.Throws<InvalidOperationException>(() => other.BeginHold());
        Assert.Equal(0, producer.Produce("dev-1"u8, "{}"u8, 1, 0, opaque: 1));
        SafeHandle client = ClientOf(producer);
        producer.Dispose();

        Assert.True(producer.IsDisposed);
        Assert.Equal(NativeProducer.Destroyed, producer.Produce("dev-1"u8, "{}"u8, 2, 0, opaque: 2));
        Assert.False(client.IsInvalid);   // still held: not freed
        producer.EndHold();
        Assert.True(client.IsInvalid);    // freed (librdkafka's handle released) when the hold ended
        Assert.False(producer.BeginHold());
        Assert.True(other.BeginHold());
        other.EndHold();
        other.Dispose();
    }

    private static SafeHandle ClientOf(NativeProducer producer) =>
        (SafeHandle)typeof(NativeProducer).GetField("_rk", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(producer)!;

    private sealed class Events : INativeProducerEvents
    {
        public List<NativeDeliveryReport> Reports { get; } = [];

        public void OnDeliveryReports(ReadOnlySpan<NativeDeliveryReport> reports) => Reports.AddRange(reports);

        public void OnError(int code, string reason, bool fatal)
        {
        }

        public void OnLog(int level, string facility, string text)
        {
        }

        public void OnStatistics(string json)
        {
        }
    }
}
