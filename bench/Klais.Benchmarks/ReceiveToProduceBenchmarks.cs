using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Klais.Contracts.Wire;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;
using Klais.Edge.Devices;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Benchmarks;

/// <summary>
/// The whole per-datagram path after <c>recvmmsg</c>, as a receive thread runs it: the edge's <see cref="EdgePipeline"/>
/// (parse with JSON validation, blocklist check, dedupe, Dam) into the <see cref="TelemetryProducer"/> (slot, copy,
/// <c>rd_kafka_produceva</c>), with the end-of-batch step serving delivery reports every 64 datagrams, against an
/// in-process mock broker. Each invocation sends 1,024 datagrams of 1,000 devices and waits until Kafka acknowledged
/// them all, so the time includes the broker round trip; the allocation budget is zero.
/// </summary>
[MemoryDiagnoser]
public class ReceiveToProduceBenchmarks
{
    private const int Batch = 64;
    private const int Batches = 16;
    private const int Devices = 1000;
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(30);

    private readonly byte[][] _datagrams = new byte[Devices][];
    private readonly int[] _batch = new int[Batch];
    private KafkaDevCluster _cluster = null!;
    private TelemetryProducer _producer = null!;
    private Dam _dam = null!;
    private EdgePipeline _pipeline = null!;
    private uint _sequence;

    /// <summary>Where the record's seq, edge and ts go (<c>KLAIS_KAFKA_RECORD_FORMAT</c>).</summary>
    [Params(RecordFormat.Headers, RecordFormat.Envelope)]
    public RecordFormat Format { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cluster = KafkaDevCluster.Start();
        _cluster.CreateTopic("bench", partitions: 6);
        _producer = new TelemetryProducer(
            new KafkaProducerOptions { BootstrapServers = _cluster.BootstrapServers, Topic = "bench", NodeId = "bench-edge", MaxInFlightMessages = 1_000_000, RecordFormat = Format },
            NullLogger<TelemetryProducer>.Instance);
        _dam = new Dam(new DamOptions { MaxRate = DamOptions.MaxRateLimit, BurstSize = DamOptions.MaxBurstLimit }, _producer, TimeProvider.System);
        _pipeline = new EdgePipeline(_dam, 1024, validateJson: true, TimeProvider.System, new DedupeTable(new DedupeOptions(), TimeProvider.System),
            new DevicePolicy(TimeProvider.System), activity: null,
            beforeBatch: _producer.BeginReceiveBatch, afterBatch: _producer.EndReceiveBatch);
        byte[] payload = """{"t":21.53,"h":48.2,"p":1013.2,"bat":3.71,"ok":true,"n":123}"""u8.ToArray();
        for (int d = 0; d < Devices; d++)
        {
            _datagrams[d] = new byte[Datagram.HeaderLength + payload.Length];
        }

        _sequence = 1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dam.Dispose();
        _producer.Dispose();
        _cluster.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch * Batches)]
    public bool Pipeline_to_Kafka()
    {
        ReadOnlySpan<byte> payload = """{"t":21.53,"h":48.2,"p":1013.2,"bat":3.71,"ok":true,"n":123}"""u8;
        Span<byte> id = stackalloc byte[16];
        for (int b = 0; b < Batches; b++)
        {
            long stamp = Stopwatch.GetTimestamp();
            for (int i = 0; i < Batch; i++)
            {
                // Device d's next sequence: every datagram is new to dedupe, as a healthy fleet's are.
                uint n = _sequence++;
                int device = (int)(n % Devices);
                byte[] datagram = _datagrams[device];
                "sensor-"u8.CopyTo(id);
                (device + 10000).TryFormat(id[7..], out int digits);
                Datagram.Write(datagram, id[..(7 + digits)], (n / Devices) + 1, payload);
                _batch[i] = device;
            }

            // As a receive thread calls it: the batch begun, prefetched in full, handled, ended.
            _pipeline.BeginBatch();
            foreach (int device in _batch)
            {
                _pipeline.Prefetch(_datagrams[device]);
            }

            foreach (int device in _batch)
            {
                _pipeline.Handle(_datagrams[device], default, stamp);
            }

            _pipeline.EndBatch(stamp);
        }

        return _producer.Flush(FlushTimeout);
    }
}
