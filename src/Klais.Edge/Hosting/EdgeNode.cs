using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Devices;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Spill;
using Klais.Edge.Xdp;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// One running edge: the embedded dev cluster when no bootstrap is configured, the Kafka producer, the circuit
/// breaker, the spill and the router between them, the dedupe table, the Dam and its drainer, the pipeline and the
/// receive threads. The UDP sockets are bound first (the kernel holds what arrives); then start order is back to
/// front (Kafka first, receive threads last) and stop order front to back, so nothing is received that cannot be
/// delivered or spilled and nothing admitted is abandoned while time remains.
/// </summary>
internal sealed partial class EdgeNode : IAsyncDisposable
{
    public const string DedupeStateFile = "dedupe.state";

    private static readonly TimeSpan IdleCheckPeriod = TimeSpan.FromSeconds(1);

    /// <summary>3 s: past start-up's last allocations (klais.control replay, the first reports) and a burst's tail.</summary>
    private const int QuietTicksBeforeCompaction = 3;

    private readonly ILogger<EdgeNode> _log;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _drainer;
    private Task? _circuitMonitor;
    private ITimer? _idleTrim;
    private long _datagramsAtLastTrimCheck;
    private int _quietTicks;
    private int _stopped;
    private readonly Lock _receiverGate = new();

    public EdgeNode(EdgeConfig config, ILoggerFactory loggers, TimeProvider time)
        : this(config, loggers, time, time)
    {
    }

    /// <param name="config">Validated settings.</param>
    /// <param name="loggers">Where components log.</param>
    /// <param name="time">Clock of the receive path (Dam, dedupe): receive timestamps are its ticks.</param>
    /// <param name="deliveryTime">Clock of the circuit breaker, the spill's fsync timer and checkpoint pacing; tests pass a manual one.</param>
    internal EdgeNode(EdgeConfig config, ILoggerFactory loggers, TimeProvider time, TimeProvider deliveryTime)
    {
        Config = config;
        _time = time;
        _log = loggers.CreateLogger<EdgeNode>();
        StartedAt = time.GetTimestamp();

        // The UDP port first: from here the kernel queues what devices send (bounded by the receive buffer, overflow
        // counted as kernel drops) while Kafka, the spill and klais.control are being set up. Should the rest of the
        // constructor throw, the process exits (Program); the socket's SafeHandle closes it in any case.
        Receiver = new UdpReceiver(
            new ReceiveOptions
            {
                Endpoint = config.UdpBind,
                Threads = config.ReceiveThreads == 0 ? Environment.ProcessorCount : config.ReceiveThreads,
                ReceiveBufferBytes = config.ReceiveBufferBytes,

                // One byte more than the largest valid datagram: a longer one arrives truncated to this length
                // and the parser rejects it as payload_too_large instead of admitting a cut-off payload.
                MaxDatagramBytes = Contracts.Wire.Datagram.HeaderLength + config.MaxPayloadBytes + 1,
            });

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

        SpillIsTemporary = config.SpillDirectory is null;
        string spillDirectory = config.SpillDirectory
            ?? Path.Combine(Path.GetTempPath(), $"klais-edge-spill-{Environment.ProcessId}-{Guid.NewGuid():N}");
        if (SpillIsTemporary)
        {
            LogTemporarySpill(_log, spillDirectory);
        }

        Spill = new SpillLog(
            new SpillOptions
            {
                Directory = spillDirectory,
                MaxBytes = config.SpillMaxBytes,
                Fsync = config.SpillFsync,
                FsyncInterval = config.SpillFsyncInterval,
                FullPolicy = config.SpillFullPolicy,
            },
            deliveryTime,
            loggers.CreateLogger<SpillLog>());

        Circuit = new KafkaCircuit(
            new CircuitOptions { Window = config.BreakerWindow, BreakDuration = config.BreakerBreak, StallAfter = config.BreakerStall },
            Producer.Probe,
            () => Producer.InFlight,
            deliveryTime,
            loggers.CreateLogger<KafkaCircuit>());
        Router = new DeliveryRouter(Producer, Spill, Circuit, deliveryTime, loggers.CreateLogger<DeliveryRouter>());

        Dedupe = new DedupeTable(new DedupeOptions { MaxDeviceCount = config.DedupeMaxDevices, IdleAfter = config.DedupeIdle }, time);
        int loaded = Dedupe.Load(Path.Combine(Spill.Directory, DedupeStateFile), time.GetTimestamp());
        if (loaded >= 0)
        {
            LogDedupeLoaded(_log, loaded);
        }

        Dam = new Dam.Dam(
            new DamOptions
            {
                MaxRate = config.DamMaxRate,
                BurstSize = config.DamBurstSize,
                QueueMaxMessages = config.DamQueueMaxMessages,
                QueueMaxBytes = config.DamQueueMaxBytes,
            },
            Router,
            time);

        Devices = new DevicePolicy(time);
        Xdp = EdgeXdp.Start(config, Devices, loggers.CreateLogger<EdgeXdp>(), time);
        Control = EdgeControl.Create(this, loggers);
        Pipeline = new EdgePipeline(Dam, config.MaxPayloadBytes, config.ValidateJson, time, Dedupe, Devices, Control?.Activity, Producer.ServeReports);
    }

    public EdgeConfig Config { get; }

    public TimeProvider Time => _time;

    public long StartedAt { get; }

    public KafkaDevCluster? EmbeddedCluster { get; }

    public string KafkaBootstrap { get; }

    public TelemetryProducer Producer { get; }

    /// <summary>True when <c>KLAIS_SPILL_DIR</c> is unset: the spill lives in a temporary directory removed at exit.</summary>
    public bool SpillIsTemporary { get; }

    public SpillLog Spill { get; }

    public KafkaCircuit Circuit { get; }

    public DeliveryRouter Router { get; }

    public DedupeTable Dedupe { get; }

    public Dam.Dam Dam { get; }

    public EdgePipeline Pipeline { get; }

    /// <summary>Blocklist and per-device limits (mirrored into the XDP maps when XDP is attached).</summary>
    public DevicePolicy Devices { get; }

    /// <summary>The kernel filter, or its absence and why.</summary>
    public EdgeXdp Xdp { get; }

    public UdpReceiver Receiver { get; }

    /// <summary>Reporting and klais.control (null when <c>KLAIS_CONTROL=off</c> or Kafka is embedded).</summary>
    public EdgeControl? Control { get; }

    /// <summary><see cref="Time"/>'s timestamp when the receive threads started (after klais.control was replayed).</summary>
    public long ReceivingSince { get; private set; }

    /// <summary>
    /// Ready for traffic: receiving and not stopping (<c>/health/ready</c>). False while klais.control is replayed at
    /// start (datagrams wait in the socket's buffer meanwhile) and from SIGTERM on.
    /// </summary>
    public bool IsReady => Receiver.Started && !IsStopping;

    /// <summary>True from the start of <see cref="StopAsync"/>.</summary>
    public bool IsStopping => Volatile.Read(ref _stopped) != 0;

    /// <summary>The degradation level (design section 3) and the reasons for it, now.</summary>
    public EdgeDegradation Degradation => EdgeDegradation.Of(this);

    /// <summary>Starts the node and returns once it receives (tests; the host calls <see cref="StartAsync"/>).</summary>
    public void Start() => StartAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Starts delivery back to front, waits for klais.control's replay (blocklist and limits before the first datagram;
    /// at most the control start timeout) and starts the receive threads. A cancellation (SIGTERM during start-up)
    /// ends the wait at once and leaves the receive threads unstarted; <see cref="StopAsync"/> still runs.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _circuitMonitor = Circuit.RunAsync(_stopping.Token);
        Router.Start();
        _drainer = Dam.RunAsync(_stopping.Token);
        if (Control is not null)
        {
            using var startOrStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
            try
            {
                await Control.StartAsync(startOrStop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        lock (_receiverGate)
        {
            if (Volatile.Read(ref _stopped) != 0)
            {
                return;
            }

            ReceivingSince = _time.GetTimestamp();
            Receiver.Start(Pipeline);
        }

        LogStarted(_log, Config.NodeId, Receiver.LocalEndPoint.ToString(), Config.DamMaxRate, Config.DamBurstSize);
        _idleTrim = _time.CreateTimer(_ => TrimWhenIdle(), null, IdleCheckPeriod, IdleCheckPeriod);
    }

    /// <summary>
    /// Every second without a datagram, freed native memory (start-up's, the runtime's, librdkafka's) goes back to the
    /// kernel: glibc keeps it otherwise, about 5 MB of an idle edge's RSS (docs/BENCHMARKS.md). One of the runtime's
    /// own threads frees about 5 MB of it 8 s after start (measured, control on or off): a 1 s period returns that
    /// within a second instead of up to 5 s later.
    /// After <see cref="QuietTicksBeforeCompaction"/> quiet seconds in a row, once per quiet spell, the managed heap is
    /// collected and its free memory decommitted (<see cref="GCCollectionMode.Aggressive"/>): start-up's garbage (and
    /// a burst's) would otherwise stay resident, since an idle edge allocates so little that no GC comes. A busy edge
    /// is left alone; a trim of a quiet process's heap takes well under a millisecond. The collection paused the edge
    /// 1.5-3 ms after start-up and 16 ms after a 50,000/s burst (120 MB heap; 5 ms at the next quiet spell), while no
    /// datagram was arriving.
    /// </summary>
    private void TrimWhenIdle()
    {
        // Callbacks take milliseconds against a 1 s period, so they do not overlap; no lock needed.
        long datagrams = Receiver.Datagrams;
        if (datagrams == _datagramsAtLastTrimCheck)
        {
            if (++_quietTicks == QuietTicksBeforeCompaction)
            {
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            }

            Net.NativeHeap.Trim();
        }
        else
        {
            _quietTicks = 0;
        }

        _datagramsAtLastTrimCheck = datagrams;
    }

    /// <summary>
    /// SIGTERM: stop receiving, stop following klais.control and reporting, drain the Dam (rate ignored), let Kafka
    /// acknowledge what it can and spill the rest, write the spill's checkpoint and the dedupe windows. Every step is
    /// bounded by one deadline, the shutdown timeout less <see cref="ExitReserve"/> for disposing the clients and
    /// leaving the process; nothing waits on brokers that do not answer beyond it, and what Kafka has not
    /// acknowledged by then is taken back into the spill.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        TimeSpan budget = StopBudget(Config.ShutdownTimeout);
        long deadline = _time.GetTimestamp() + (long)(budget.TotalSeconds * _time.TimestampFrequency);
        TimeSpan Remaining() => TimeSpan.FromSeconds(Math.Max(0, (deadline - _time.GetTimestamp()) / (double)_time.TimestampFrequency));

        lock (_receiverGate)
        {
            // A start still waiting for klais.control sees _stopped and never starts the threads.
            Receiver.Stop(Min(ReceiverStopLimit, Remaining()));
        }

        if (_idleTrim is not null)
        {
            await _idleTrim.DisposeAsync().ConfigureAwait(false);
        }

        if (Control is not null)
        {
            await Control.StopAsync(Min(ControlStopLimit, Remaining())).ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_drainer is not null)
        {
            await _drainer.ConfigureAwait(false);
        }

        // Half the time for the Dam: in an outage its records go to the spill, which is fast.
        bool drained = Dam.DrainAll(Remaining() / 2);
        await Router.StopAsync(Remaining()).ConfigureAwait(false);
        if (_circuitMonitor is not null)
        {
            await _circuitMonitor.ConfigureAwait(false);
        }

        if (!SpillIsTemporary)
        {
            try
            {
                LogDedupeSaved(_log, Dedupe.Save(Path.Combine(Spill.Directory, DedupeStateFile)));
            }
            catch (IOException e)
            {
                LogDedupeSaveFailed(_log, e.Message);
            }
        }

        LogStopped(_log, drained, Dam.QueueDepth, Producer.Delivered, Spill.PendingRecords, Router.Lost);
    }

    /// <summary>Time left after the stop steps for disposing the Kafka clients and the process's exit.</summary>
    internal static readonly TimeSpan ExitReserve = TimeSpan.FromSeconds(1.5);

    /// <summary>How long the receive threads get to notice a stop (they poll every 100 ms).</summary>
    private static readonly TimeSpan ReceiverStopLimit = TimeSpan.FromSeconds(1);

    /// <summary>How long the control follower and the reporter get: they notice within half a second.</summary>
    private static readonly TimeSpan ControlStopLimit = TimeSpan.FromSeconds(1.5);

    /// <summary>The stop steps' deadline for a shutdown timeout: the timeout less <see cref="ExitReserve"/>, at least half of it.</summary>
    internal static TimeSpan StopBudget(TimeSpan shutdownTimeout) =>
        shutdownTimeout - ExitReserve > shutdownTimeout / 2 ? shutdownTimeout - ExitReserve : shutdownTimeout / 2;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        Receiver.Dispose();
        Control?.Dispose();
        await Xdp.DisposeAsync().ConfigureAwait(false);
        Producer.Dispose();
        Router.Dispose();
        Spill.Dispose();
        EmbeddedCluster?.Dispose();
        _stopping.Dispose();
        if (SpillIsTemporary)
        {
            try
            {
                Directory.Delete(Spill.Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [LoggerMessage(EventId = EventIds.EmbeddedCluster, Level = LogLevel.Warning,
        Message = "KLAIS_KAFKA_BOOTSTRAP is unset: started an embedded Kafka dev cluster at {Bootstrap}. It is in memory and NOT durable: records are lost when this process exits. Set KLAIS_KAFKA_BOOTSTRAP for real use.")]
    private static partial void LogEmbeddedCluster(ILogger logger, string bootstrap);

    [LoggerMessage(EventId = EventIds.SpillTemporary, Level = LogLevel.Warning,
        Message = "KLAIS_SPILL_DIR is unset: spilling to the temporary directory {Directory}, removed at exit. A Kafka outage's backlog does not survive a restart. Set KLAIS_SPILL_DIR for real use.")]
    private static partial void LogTemporarySpill(ILogger logger, string directory);

    [LoggerMessage(EventId = EventIds.Started, Level = LogLevel.Information,
        Message = "Edge {NodeId} receiving on udp://{Endpoint}; Dam rate {Rate}/s, burst {Burst}")]
    private static partial void LogStarted(ILogger logger, string nodeId, string endpoint, double rate, long burst);

    [LoggerMessage(EventId = EventIds.Stopped, Level = LogLevel.Information,
        Message = "Edge stopped: Dam drained {Drained} (left {QueueDepth}); delivered {Delivered}; spill holds {Pending} records for the next start; lost {Lost}")]
    private static partial void LogStopped(ILogger logger, bool drained, long queueDepth, long delivered, long pending, long lost);

    [LoggerMessage(EventId = EventIds.DedupeState, Level = LogLevel.Information, Message = "Dedupe: windows of {Devices} devices restored from the last run")]
    private static partial void LogDedupeLoaded(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.DedupeSaved, Level = LogLevel.Information, Message = "Dedupe: windows of {Devices} devices saved")]
    private static partial void LogDedupeSaved(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.DedupeSaveFailed, Level = LogLevel.Warning, Message = "Dedupe: windows could not be saved: {Error}")]
    private static partial void LogDedupeSaveFailed(ILogger logger, string error);
}
