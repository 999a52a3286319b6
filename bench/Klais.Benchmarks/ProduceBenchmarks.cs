using BenchmarkDotNet.Attributes;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Edge.Kafka;
using Klais.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Benchmarks;

/// <summary>
/// Bytes allocated per record on the produce path, against an embedded mock cluster (one broker, one
/// partition). Each invocation hands <see cref="Batch"/> records to the producer and flushes, so the
/// figure includes the delivery reports on librdkafka's poll thread (allocation counts are process-wide)
/// and the throughput is end to end through the mock broker.
/// </summary>
[MemoryDiagnoser]
public class ProduceBenchmarks
{
    private const int Batch = 1000;
    private const string Topic = "bench";
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(30);
    private readonly byte[] _key = "device-000042"u8.ToArray();
    private readonly byte[] _payload = "{\"t\":21.5,\"h\":40.1,\"bat\":3.71,\"ts\":1767225600}"u8.ToArray();
    private KafkaDevCluster _cluster = null!;
    private TelemetryProducer _producer = null!;
    private IProducer<byte[], byte[]> _plain = null!;
    private NativeProducer _native = null!;
    private readonly Reports _reports = new();

    [GlobalSetup]
    public void Setup()
    {
        _cluster = KafkaDevCluster.Start();
        _cluster.CreateTopic(Topic, partitions: 1);
        var options = new KafkaProducerOptions
        {
            BootstrapServers = _cluster.BootstrapServers,
            Topic = Topic,
            NodeId = "bench-edge",
            MaxInFlightMessages = 1_000_000,
        };
        _producer = new TelemetryProducer(options, NullLogger<TelemetryProducer>.Instance);
        _plain = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = _cluster.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType.Lz4,
            LingerMs = options.LingerMs,
        }).Build();
        _native = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers,
            ["enable.idempotence"] = "true",
            ["acks"] = "all",
            ["compression.codec"] = "lz4",
            ["linger.ms"] = options.LingerMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["batch.size"] = options.BatchSizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, Topic, "bench-edge");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _native.Dispose();
        _plain.Dispose();
        _producer.Dispose();
        _cluster.Dispose();
    }

    /// <summary>The edge's path: TryDeliver per record, reused per-thread message objects.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public bool TelemetryProducer_TryDeliver()
    {
        for (int i = 0; i < Batch; i++)
        {
            _producer.TryDeliver(new Admitted(_key, (uint)i, _payload, i));
        }

        return _producer.Flush(FlushTimeout);
    }

    /// <summary>For comparison: the obvious Confluent code, a new message, headers and arrays per record.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Confluent_Produce_new_message_per_record()
    {
        for (int i = 0; i < Batch; i++)
        {
            var message = new Message<byte[], byte[]>
            {
                Key = _key.ToArray(),
                Value = _payload.ToArray(),
                Headers = new Headers { { "seq", BitConverter.GetBytes(i) }, { "edge", "bench-edge"u8.ToArray() }, { "ts", BitConverter.GetBytes((long)i) } },
            };
            _plain.Produce(Topic, message, static _ => { });
        }

        return _plain.Flush(FlushTimeout);
    }

    /// <summary>
    /// The candidate: straight on librdkafka (<see cref="NativeProducer"/>): rd_kafka_produceva with the same key,
    /// value and three headers, delivery reports taken in batches from the event API on this thread.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long Native_produceva_batched_reports()
    {
        long before = _reports.Persisted;
        for (int i = 0; i < Batch; i++)
        {
            if (_native.Produce(_key, _payload, (uint)i, i, i) != 0)
            {
                throw new InvalidOperationException("librdkafka refused a record");
            }
        }

        while (_reports.Persisted - before < Batch)
        {
            _native.Poll(100, _reports);
        }

        return _reports.Persisted;
    }

    private sealed class Reports : INativeProducerEvents
    {
        public long Persisted { get; private set; }

        public void OnDeliveryReports(ReadOnlySpan<NativeDeliveryReport> reports)
        {
            foreach (NativeDeliveryReport report in reports)
            {
                Persisted += report.Error == 0 ? 1 : 0;
            }
        }

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
