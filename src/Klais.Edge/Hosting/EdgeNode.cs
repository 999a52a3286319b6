using System.Diagnostics;
using Klais.Edge.Configuration;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Xdp;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// One running edge: the embedded dev cluster when no bootstrap is configured, the Kafka producer, the Dam and
/// its drainer, the pipeline and the receive threads. Start order is back to front (Kafka first, sockets last)
/// and stop order front to back, so nothing is received that cannot be delivered and nothing admitted is
/// abandoned while time remains.
/// </summary>
internal sealed partial class EdgeNode : IAsyncDisposable
{
    private readonly ILogger<EdgeNode> _log;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _drainer;
    private int _stopped;

    public EdgeNode(EdgeConfig config, ILoggerFactory loggers, TimeProvider time)
    {
        Config = config;
        _time = time;
        _log = loggers.CreateLogger<EdgeNode>();
        StartedAt = Stopwatch.GetTimestamp();

        Librdkafka.EnsureLoaded();
        string bootstrap;
        if (config.KafkaBootstrap is null)
        {
            EmbeddedCluster = KafkaDevCluster.Start(brokers: 1);
            EmbeddedCluster.CreateTopic(config.KafkaTopic, partitions: 6);
            bootstrap = EmbeddedCluster.BootstrapServers;
            LogEmbeddedCluster(_log, bootstrap);
        }
        else
        {
            bootstrap = config.KafkaBootstrap;
        }

        KafkaBootstrap = bootstrap;
        Producer = new TelemetryProducer(
            new KafkaProducerOptions
            {
                BootstrapServers = bootstrap,
                Topic = config.KafkaTopic,
                NodeId = config.NodeId,
                LingerMs = config.KafkaLingerMs,
                MaxInFlightMessages = config.KafkaMaxInFlight,
            },
            loggers.CreateLogger<TelemetryProducer>());

        Dam = new Dam.Dam(
            new DamOptions
            {
                MaxRate = config.DamMaxRate,
                BurstSize = config.DamBurstSize,
                QueueMaxMessages = config.DamQueueMaxMessages,
                QueueMaxBytes = config.DamQueueMaxBytes,
            },
            Producer,
            time);

        Devices = new DevicePolicy(time);
        Xdp = EdgeXdp.Start(config, Devices, loggers.CreateLogger<EdgeXdp>(), time);
        Pipeline = new EdgePipeline(Dam, Devices, config.MaxPayloadBytes, config.ValidateJson, time);
        Receiver = new UdpReceiver(
            new ReceiveOptions
            {
                Endpoint = config.UdpBind,
                Threads = config.ReceiveThreads == 0 ? Environment.ProcessorCount : config.ReceiveThreads,
                ReceiveBufferBytes = config.ReceiveBufferBytes,

                // One byte more than the largest valid datagram: a longer one arrives truncated to this length
                // and the parser rejects it as payload_too_large instead of admitting a cut-off payload.
                MaxDatagramBytes = Contracts.Wire.Datagram.HeaderLength + config.MaxPayloadBytes + 1,
            },
            Pipeline);
    }

    public EdgeConfig Config { get; }

    public TimeProvider Time => _time;

    public long StartedAt { get; }

    public KafkaDevCluster? EmbeddedCluster { get; }

    public string KafkaBootstrap { get; }

    public TelemetryProducer Producer { get; }

    public Dam.Dam Dam { get; }

    public EdgePipeline Pipeline { get; }

    /// <summary>Blocklist and per-device limits (mirrored into the XDP maps when XDP is attached).</summary>
    public DevicePolicy Devices { get; }

    /// <summary>The kernel filter, or its absence and why.</summary>
    public EdgeXdp Xdp { get; }

    public UdpReceiver Receiver { get; }

    public void Start()
    {
        _drainer = Dam.RunAsync(_stopping.Token);
        Receiver.Start();
        LogStarted(_log, Config.NodeId, Receiver.LocalEndPoint.ToString(), Config.DamMaxRate, Config.DamBurstSize);
    }

    /// <summary>SIGTERM: stop receiving, drain the Dam (rate ignored), flush Kafka, all within the shutdown timeout.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        long deadline = _time.GetTimestamp() + (long)(Config.ShutdownTimeout.TotalSeconds * _time.TimestampFrequency);
        TimeSpan Remaining() => TimeSpan.FromSeconds(Math.Max(0, (deadline - _time.GetTimestamp()) / (double)_time.TimestampFrequency));

        Receiver.Stop();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_drainer is not null)
        {
            await _drainer.ConfigureAwait(false);
        }

        bool drained = Dam.DrainAll(Remaining());
        bool flushed = Producer.Flush(Remaining());
        LogStopped(_log, drained, flushed, Dam.QueueDepth, Producer.InFlight, Producer.Delivered);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        Receiver.Dispose();
        await Xdp.DisposeAsync().ConfigureAwait(false);
        Producer.Dispose();
        EmbeddedCluster?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = EventIds.EmbeddedCluster, Level = LogLevel.Warning,
        Message = "KLAIS_KAFKA_BOOTSTRAP is unset: started an embedded Kafka dev cluster at {Bootstrap}. It is in memory and NOT durable: records are lost when this process exits. Set KLAIS_KAFKA_BOOTSTRAP for real use.")]
    private static partial void LogEmbeddedCluster(ILogger logger, string bootstrap);

    [LoggerMessage(EventId = EventIds.Started, Level = LogLevel.Information,
        Message = "Edge {NodeId} receiving on udp://{Endpoint}; Dam rate {Rate}/s, burst {Burst}")]
    private static partial void LogStarted(ILogger logger, string nodeId, string endpoint, double rate, long burst);

    [LoggerMessage(EventId = EventIds.Stopped, Level = LogLevel.Information,
        Message = "Edge stopped: Dam drained {Drained}, Kafka flushed {Flushed}; left in queue {QueueDepth}, in flight {InFlight}; delivered {Delivered}")]
    private static partial void LogStopped(ILogger logger, bool drained, bool flushed, long queueDepth, long inFlight, long delivered);
}
