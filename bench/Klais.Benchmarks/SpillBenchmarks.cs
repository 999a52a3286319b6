using BenchmarkDotNet.Attributes;
using Klais.Edge.Dam;
using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;
using Klais.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Benchmarks;

/// <summary>
/// The spill's rates, per record (60-byte JSON payload, 13-byte device id, ~94 bytes on disk): appending while Kafka
/// is away, reading it back, and replaying it into Kafka until every record is acknowledged (dev cluster, one
/// broker, 6 partitions). Each iteration works on a fresh spill of <see cref="Records"/> records.
/// </summary>
[MemoryDiagnoser]
public class SpillBenchmarks
{
    private const int Records = 200_000;
    private const string Topic = "bench-replay";
    private readonly byte[] _key = "sensor-000042"u8.ToArray();
    private readonly byte[] _payload = """{"t":21.53,"h":48.2,"p":1013.2,"bat":3.71,"ok":true,"n":123}"""u8.ToArray();
    private string _directory = null!;
    private SpillLog _log = null!;
    private KafkaDevCluster _cluster = null!;
    private TelemetryProducer _producer = null!;
    private KafkaCircuit _circuit = null!;
    private DeliveryRouter? _router;

    /// <summary>KLAIS_SPILL_FSYNC.</summary>
    [Params("never", "interval:100")]
    public string Fsync { get; set; } = "never";

    [GlobalSetup]
    public void Setup()
    {
        _cluster = KafkaDevCluster.Start();
        _cluster.CreateTopic(Topic, partitions: 6);
        _producer = new TelemetryProducer(
            new KafkaProducerOptions { BootstrapServers = _cluster.BootstrapServers, Topic = Topic, NodeId = "bench-edge", MaxInFlightMessages = 200_000 },
            NullLogger<TelemetryProducer>.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _producer.Dispose();
        _cluster.Dispose();
    }

    [IterationSetup(Targets = [nameof(Append)])]
    public void FreshSpill() => _log = OpenLog();

    [IterationSetup(Targets = [nameof(Read)])]
    public void FilledSpill()
    {
        _log = OpenLog();
        Fill(_log);
        _log.Close();
    }

    [IterationSetup(Targets = [nameof(Replay_to_kafka_acknowledged)])]
    public void FilledSpillAndRouter()
    {
        _log = OpenLog();
        Fill(_log);
        _log.FlushAndSync();
        _circuit = new KafkaCircuit(new CircuitOptions(), _producer.Probe, () => _producer.InFlight, TimeProvider.System, NullLogger<KafkaCircuit>.Instance);
        _router = new DeliveryRouter(_producer, _log, _circuit, TimeProvider.System, NullLogger<DeliveryRouter>.Instance);
    }

    [IterationCleanup]
    public void DeleteSpill()
    {
        if (_router is not null)
        {
            _router.StopAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            _router.Dispose();
            _router = null;
        }

        _log.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>SpillLog.Append per record (buffered; the fsync policy's timer runs meanwhile for Interval).</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void Append() => Fill(_log);

    /// <summary>SpillReader.TryRead per record: read, frame, CRC-32C check.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public long Read()
    {
        using var reader = new SpillReader(_log);
        long sum = 0;
        while (reader.TryRead(out Admitted record, out _, out _))
        {
            sum += record.Sequence;
        }

        return sum;
    }

    /// <summary>Replay: read from the spill, produce, until Kafka acknowledged every record.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public long Replay_to_kafka_acknowledged()
    {
        long before = _producer.Delivered;
        _router!.Start();
        SpinWait.SpinUntil(() => _producer.Delivered - before >= Records, TimeSpan.FromMinutes(2));
        return _producer.Delivered - before;
    }

    private SpillLog OpenLog()
    {
        _directory = Path.Combine(Path.GetTempPath(), "klais-bench-spill-" + Guid.NewGuid().ToString("N"));
        if (!SpillOptions.TryParseFsync(Fsync, out SpillFsync fsync, out TimeSpan interval))
        {
            throw new InvalidOperationException($"Bad fsync parameter {Fsync}.");
        }

        var log = new SpillLog(new SpillOptions { Directory = _directory, Fsync = fsync, FsyncInterval = interval, MaxBytes = 1L << 30 }, TimeProvider.System, NullLogger<SpillLog>.Instance);
        log.OpenForAppends();
        return log;
    }

    private void Fill(SpillLog log)
    {
        for (int i = 0; i < Records; i++)
        {
            log.Append(new Admitted(_key, (uint)i, _payload, i));
        }
    }
}
