using System.Diagnostics;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;

namespace Klais.Edge.Delivery;

/// <summary>
/// The Dam's sink: delivers admitted records to Kafka while Kafka takes them, and to the <see cref="SpillLog"/>
/// while it does not; replays the spill, oldest first, when Kafka is back, and only then delivers directly again.
/// </summary>
/// <remarks>
/// <para>The mode (direct, draining, spilling) and the invariant that keeps each device's order live in
/// <see cref="DeliveryGate"/>: the router asks it before handing a record to librdkafka or to the spill. Going to the
/// spill (circuit open, or librdkafka gave a record back) first takes back everything librdkafka holds
/// (<c>rd_kafka_purge</c>) and spills it in produce order while new records wait in the Dam; replay produces from the
/// spill's head while new records go to its tail, and the gate switches back to direct when replay caught up.</para>
/// <para>Exactly once: a replayed record leaves the spill only when Kafka acknowledged it (<see cref="ReplayWindow"/>,
/// checkpoint). Records acknowledged out of order are remembered so neither a rewind nor a restart sends them again.
/// What stays open: a record librdkafka had sent and then gave back (<see cref="PersistenceStatus.PossiblyPersisted"/>)
/// may have been written by the broker; it is spilled anyway (losing it would be worse) and counted in
/// <c>kafka.returned_possibly_persisted</c>. docs/delivery.md has the whole story.</para>
/// </remarks>
internal sealed partial class DeliveryRouter : IDamSink, IDeliveryObserver, IDisposable
{
    public const int DefaultReplayWindow = 16_384;

    /// <summary>Records replayed per step before the checkpoint and the mode are looked at again.</summary>
    private const int ReplayChunk = 2048;

    /// <summary>Between idle replay steps while there is a backlog or unacknowledged replay: short, acks do not wake the replayer.</summary>
    private static readonly TimeSpan BusyWait = TimeSpan.FromMilliseconds(20);

    /// <summary>Between idle steps in direct delivery with nothing left to track: every state change wakes the replayer anyway.</summary>
    private static readonly TimeSpan IdleWait = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CommitEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>How long records already sent may take to be answered before they are purged too (see PurgeUntilEmpty).</summary>
    private static readonly TimeSpan InFlightGrace = TimeSpan.FromSeconds(2);

    private readonly TelemetryProducer _producer;
    private readonly SpillLog _spill;
    private readonly KafkaCircuit _circuit;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly SpillReader _reader;
    private readonly ReplayWindow _window;
    private readonly DeliveryGate _gate;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private Task? _replayer;
    private long _lastCommit;
    private SpillPosition _committed = new(-1, -1);
    private long _spilled;
    private long _lost;
    private long _replayed;
    private long _rewinds;
    private int _lostLogged;
    private int _lostAfterStopLogged;

    public DeliveryRouter(TelemetryProducer producer, SpillLog spill, KafkaCircuit circuit, TimeProvider time, ILogger<DeliveryRouter> logger, int replayWindow = DefaultReplayWindow)
    {
        _producer = producer;
        _spill = spill;
        _circuit = circuit;
        _time = time;
        _log = logger;
        _reader = new SpillReader(spill);
        _window = new ReplayWindow(replayWindow);
        _lastCommit = time.GetTimestamp();
        _gate = new DeliveryGate(spill, backlog: spill.PendingRecords > 0 || spill.SegmentCount > 0);

        producer.Observer = this;
        circuit.Opened += OnCircuitOpened;
        circuit.Closed += Wake;
    }

    public DeliveryMode Mode => _gate.Mode;

    /// <summary>Records this router wrote to the spill (from the Dam, or given back by librdkafka).</summary>
    public long Spilled => Interlocked.Read(ref _spilled);

    /// <summary>Admitted records lost because the spill was full or failing (policy refuse-newest): counted, never silent.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Records read from the spill and handed to librdkafka (a record handed over again after a rewind counts again).</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>Times replay started over from its oldest unacknowledged record because replayed records came back.</summary>
    public long Rewinds => Interlocked.Read(ref _rewinds);

    /// <summary>Times the router switched from direct delivery to the spill.</summary>
    public long SpillEpisodes => _gate.Drains;

    public int ReplayInFlight => _window.InFlight;

    public SpillLog Spill => _spill;

    public void Start() => _replayer = Task.Run(() => ReplayLoopAsync(_stopping.Token));

    /// <inheritdoc />
    public bool TryDeliver(in Admitted record)
    {
        while (true)
        {
            DeliveryMode mode = _gate.Mode;
            if (mode == DeliveryMode.Direct)
            {
                if (_producer.TryProduceWhile(record, ref _gate.ProduceGate, DeliveryGate.Open, out bool closed))
                {
                    return true;
                }

                if (!closed)
                {
                    return false;   // librdkafka is at its in-flight cap: the Dam holds the record
                }

                continue;
            }

            if (mode == DeliveryMode.Draining)
            {
                return false;       // the Dam holds it until librdkafka's records are back in the spill
            }

            SpillAppendResult result = _spill.Append(record);
            switch (result)
            {
                case SpillAppendResult.Appended:
                    Interlocked.Increment(ref _spilled);
                    return true;
                case SpillAppendResult.Closed when !_gate.IsStopped:
                    continue;       // replay just caught up: direct again
                default:
                    if (result == SpillAppendResult.Full && _spill.Options.FullPolicy == SpillFullPolicy.Block)
                    {
                        return false;
                    }

                    CountLost(result);
                    return true;
            }
        }
    }

    /// <inheritdoc />
    public void OnDelivered(InFlightRecord record)
    {
        _circuit.RecordAcknowledged();
        if (record.Ticket != InFlightRecord.Direct)
        {
            _window.MarkAcked(record.Ticket);
        }
    }

    /// <inheritdoc />
    public void OnReturned(InFlightRecord record, ErrorCode code, PersistenceStatus status)
    {
        bool ours = code is ErrorCode.Local_PurgeQueue or ErrorCode.Local_PurgeInflight;
        if (!ours)
        {
            _circuit.RecordFailure($"{code}: record returned undelivered");
        }

        if (record.Ticket != InFlightRecord.Direct)
        {
            // Still in the spill: the replayer sends it again after a rewind.
            _window.MarkFailed(record.Ticket);
            BeginSpilling("a replayed record came back undelivered");
            Wake();
            return;
        }

        // Keep order: once one record fell out of librdkafka, everything after it goes through the spill too.
        BeginSpilling(ours ? "records taken back from librdkafka" : $"a record came back undelivered ({code})");
        if (_gate.TryHoldReturned(record))
        {
            return;     // spilled, in produce order, when the drain ends
        }

        while (true)
        {
            SpillAppendResult result = _spill.Append(record.Record);
            if (result == SpillAppendResult.Appended)
            {
                Interlocked.Increment(ref _spilled);
                return;
            }

            if (result != SpillAppendResult.Closed || _gate.IsStopped)
            {
                // Full or failing: this thread cannot hold it (it is librdkafka's poll thread). Closed by the stop:
                // nothing takes it any more, and asking again would spin on this thread for ever.
                CountLost(result);
                return;
            }

            BeginSpilling("a record came back while the replay finished");
        }
    }

    /// <inheritdoc />
    public void OnClientError(Error error)
    {
        if (error.Code == ErrorCode.Local_AllBrokersDown)
        {
            _circuit.RecordAllBrokersDown($"{error.Code}: {error.Reason}");
        }
    }

    /// <summary>
    /// SIGTERM: stop replaying, let Kafka acknowledge what it can within <paramref name="timeout"/>, take back what
    /// librdkafka still holds into the spill, write the checkpoint and fsync. Call after the Dam has been drained.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        TimeSpan Left() => timeout - elapsed.Elapsed > TimeSpan.Zero ? timeout - elapsed.Elapsed : TimeSpan.Zero;

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_replayer is not null)
        {
            await _replayer.ConfigureAwait(false);
        }

        // Keep a quarter of the time (at most 2 s) for taking records back and writing them.
        TimeSpan reserve = TimeSpan.FromTicks(Math.Min(timeout.Ticks / 4, TimeSpan.FromSeconds(2).Ticks));
        if (_producer.InFlight > 0 && _circuit.State == CircuitState.Closed)
        {
            FlushWhileAcknowledged(Left() - reserve > TimeSpan.Zero ? Left() - reserve : TimeSpan.Zero);
        }

        long heldBack = _producer.InFlight;
        if (heldBack > 0)
        {
            BeginSpilling("shutdown: Kafka did not acknowledge everything in time");
            PurgeUntilEmpty(Left() + TimeSpan.FromSeconds(1), graceForSent: false);
        }

        await _gate.Drained.ConfigureAwait(false);
        Commit(force: true);
        _gate.Stop();
        LogStopped(_log, heldBack, _spill.PendingRecords, _spill.Bytes, Lost);
    }

    /// <summary>
    /// The stop's flush: waits up to <paramref name="limit"/> for Kafka to acknowledge what is in flight, in slices,
    /// and gives up as soon as <see cref="FlushStall"/> passes without one acknowledgement or failure. A SIGTERM that
    /// comes before the circuit has noticed an outage (every broker down, the circuit still closed) then goes on to the
    /// spill at once instead of waiting out the whole limit. Real time (Stopwatch) like the rest of the stop: tests
    /// drive the circuit with a manual clock, and a flush cannot wait on that.
    /// </summary>
    private void FlushWhileAcknowledged(TimeSpan limit)
    {
        var elapsed = Stopwatch.StartNew();
        long settled = _producer.Delivered + _producer.Failed;
        TimeSpan lastProgress = TimeSpan.Zero;
        while (_producer.InFlight > 0 && elapsed.Elapsed < limit && elapsed.Elapsed - lastProgress < FlushStall)
        {
            TimeSpan slice = limit - elapsed.Elapsed < FlushSlice ? limit - elapsed.Elapsed : FlushSlice;
            if (_producer.Flush(slice, logIncomplete: false))
            {
                return;
            }

            long now = _producer.Delivered + _producer.Failed;
            if (now != settled)
            {
                (settled, lastProgress) = (now, elapsed.Elapsed);
            }
        }

        if (_producer.InFlight > 0)
        {
            LogFlushGaveUp(_log, _producer.InFlight, elapsed.Elapsed.TotalSeconds);
        }
    }

    /// <summary>One flush call of the stop; short, so that progress is checked often.</summary>
    private static readonly TimeSpan FlushSlice = TimeSpan.FromMilliseconds(100);

    /// <summary>A second without any acknowledgement: librdkafka's own batches (linger 5 ms by default) and a healthy broker answer far sooner.</summary>
    internal static readonly TimeSpan FlushStall = TimeSpan.FromSeconds(1);

    public void Dispose()
    {
        _stopping.Dispose();
        _wake.Dispose();
        _reader.Dispose();
    }

    /// <summary>Direct → Draining: take everything back from librdkafka into the spill, then spill new records.</summary>
    internal void BeginSpilling(string reason)
    {
        if (_gate.TryBeginDraining(FinishDraining))
        {
            LogSpilling(_log, reason, _producer.InFlight);
        }
    }

    /// <summary>Takes everything back from librdkafka, spills it in produce order, then lets new records into the spill.</summary>
    private void FinishDraining()
    {
        PurgeUntilEmpty(_stopping.IsCancellationRequested ? TimeSpan.Zero : Timeout.InfiniteTimeSpan, graceForSent: !_stopping.IsCancellationRequested);
        PurgeUntilEmpty(Timeout.InfiniteTimeSpan, graceForSent: false);
        _gate.EndDraining(record =>
        {
            SpillAppendResult result = _spill.Append(record);
            if (result == SpillAppendResult.Appended)
            {
                Interlocked.Increment(ref _spilled);
            }
            else
            {
                CountLost(result);
            }
        });

        Wake();
    }

    private void OnCircuitOpened()
    {
        BeginSpilling("circuit open");
        Wake();
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>
    /// Purges until librdkafka holds nothing and every report has been handled (the observer spilled or rewound each).
    /// With <paramref name="graceForSent"/> (replay: the records are safe in the spill, order comes from re-reading it)
    /// only what was never sent is purged at first; records already sent get <see cref="InFlightGrace"/> to be answered
    /// before they are purged too, because a purged in-flight record may have been written by the broker and sending
    /// it again would duplicate it. Without it (records from the Dam, whose order is the report order) everything is
    /// purged at once: librdkafka reports in-flight records before queued ones, oldest first.
    /// </summary>
    private void PurgeUntilEmpty(TimeSpan limit, bool graceForSent)
    {
        var elapsed = Stopwatch.StartNew();
        while (_producer.InFlight > 0)
        {
            bool inFlightToo = !graceForSent || elapsed.Elapsed >= InFlightGrace;
            try
            {
                _producer.Purge(inFlightToo);
            }
            catch (KafkaException e)
            {
                LogPurgeFailed(_log, e.Error.Code, e.Error.Reason);
            }

            // Reports arrive on the poll thread; a record that slipped past the gate just now is caught by the next round.
            SpinWait.SpinUntil(() => _producer.InFlight == 0, TimeSpan.FromMilliseconds(inFlightToo ? 200 : 50));
            if (limit != Timeout.InfiniteTimeSpan && elapsed.Elapsed > limit)
            {
                return;
            }
        }
    }

    private async Task ReplayLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            bool progressed;
            try
            {
                progressed = ReplayStep();
                Commit(force: false);
            }
            catch (IOException e)
            {
                LogReplayIoError(_log, e.Message);
                progressed = false;
            }

            if (!progressed)
            {
                try
                {
                    bool idle = Mode == DeliveryMode.Direct && _window.Count == 0;
                    await _wake.WaitAsync(idle ? IdleWait : BusyWait, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One step of replay; true when it did something (so the loop does not wait).</summary>
    internal bool ReplayStep()
    {
        DeliveryMode mode = _gate.Mode;
        if (mode == DeliveryMode.Draining)
        {
            return false;
        }

        bool kafkaUp = _circuit.State == CircuitState.Closed;
        if (_window.Failed > 0 || (!kafkaUp && _window.InFlight > 0))
        {
            // Replayed records came back, or Kafka went away mid-replay: take the rest back too, then start over
            // from the oldest unacknowledged record, passing over those acknowledged out of order.
            if (_window.InFlight > 0)
            {
                PurgeUntilEmpty(InFlightGrace + TimeSpan.FromSeconds(1), graceForSent: true);
                return false;
            }

            (SpillPosition from, List<SpillPosition> skip) = _window.Rewind(_reader.Position);
            skip.AddRange(_reader.PendingSkips);
            _reader.Seek(from, skip);
            Interlocked.Increment(ref _rewinds);
            LogRewound(_log, from.ToString(), skip.Count);
            return true;
        }

        if (mode != DeliveryMode.Spilling || !kafkaUp)
        {
            return false;
        }

        int handled = 0;
        while (handled < ReplayChunk && !_window.IsFull)
        {
            if (!_reader.TryRead(out Admitted record, out SpillPosition position, out bool alreadyDone))
            {
                if (_gate.TryReturnToDirect(_reader.Position))
                {
                    // The tail is sealed now: one more read moves the reader past it, so the checkpoint can pass it
                    // and the segment is deleted once its last records are acknowledged.
                    _reader.TryRead(out _, out _, out _);
                    LogReplayFinished(_log, Replayed, _window.InFlight);
                    return true;
                }

                return handled > 0;
            }

            long ticket = _window.Add(position, alreadyDone);
            handled++;
            if (alreadyDone)
            {
                continue;
            }

            if (!_producer.TryProduce(record, ticket))
            {
                _window.RemoveLast(ticket);
                _reader.PushBack();
                return handled > 1;
            }

            Interlocked.Increment(ref _replayed);
        }

        return handled > 0;
    }

    /// <summary>Saves the checkpoint (at most every 100 ms unless forced) and lets the spill delete finished segments.</summary>
    private void Commit(bool force)
    {
        long now = _time.GetTimestamp();
        if (!force && _time.GetElapsedTime(_lastCommit, now) < CommitEvery)
        {
            return;
        }

        SpillPosition prefix = _window.Prefix(_reader.Position);
        long newlyDone = _window.TakeNewlyDone();
        if (!force && prefix == _committed && newlyDone == 0)
        {
            return;
        }

        if (_spill.SegmentCount == 0 && prefix == _committed && newlyDone == 0)
        {
            return;
        }

        List<SpillPosition> done = _window.DoneBeyondPrefix();
        done.AddRange(_reader.PendingSkips);
        _spill.Commit(prefix, done, newlyDone);
        _committed = prefix;
        _lastCommit = now;
    }

    private void CountLost(SpillAppendResult result)
    {
        Interlocked.Increment(ref _lost);
        if (result == SpillAppendResult.Closed)
        {
            if (Interlocked.Exchange(ref _lostAfterStopLogged, 1) == 0)
            {
                LogLostAfterStop(_log, _producer.InFlight);
            }
        }
        else if (Interlocked.Exchange(ref _lostLogged, 1) == 0)
        {
            LogLost(_log, result == SpillAppendResult.Full ? "full" : "failing", _spill.Bytes, _spill.LastError ?? string.Empty);
        }
    }

    [LoggerMessage(EventId = EventIds.SpillingStarted, Level = LogLevel.Warning, Message = "Spilling: {Reason}; taking back {InFlight} records from librdkafka into the spill")]
    private static partial void LogSpilling(ILogger logger, string reason, long inFlight);

    [LoggerMessage(EventId = EventIds.ReplayFinished, Level = LogLevel.Information, Message = "Spill replayed ({Replayed} records handed to Kafka so far, {InFlight} awaiting acknowledgement): delivering directly again")]
    private static partial void LogReplayFinished(ILogger logger, long replayed, int inFlight);

    [LoggerMessage(EventId = EventIds.ReplayRewound, Level = LogLevel.Warning, Message = "Replay starts over at {Position}, passing over {Skipped} records already acknowledged")]
    private static partial void LogRewound(ILogger logger, string position, int skipped);

    [LoggerMessage(EventId = EventIds.SpillFull, Level = LogLevel.Error, Message = "Spill {State} ({Bytes} bytes; {Error}): admitted records are being refused and counted as spill.lost (logged once)")]
    private static partial void LogLost(ILogger logger, string state, long bytes, string error);

    [LoggerMessage(EventId = EventIds.DeliveryAfterStop, Level = LogLevel.Error,
        Message = "A record reached delivery after the stop had closed the spill ({InFlight} still in librdkafka): it is counted as spill.lost (logged once)")]
    private static partial void LogLostAfterStop(ILogger logger, long inFlight);

    [LoggerMessage(EventId = EventIds.ShutdownSpilled, Level = LogLevel.Information, Message = "Delivery stopped: {HeldBack} records taken back from librdkafka; spill holds {Pending} records ({Bytes} bytes); lost {Lost}")]
    private static partial void LogStopped(ILogger logger, long heldBack, long pending, long bytes, long lost);

    [LoggerMessage(EventId = EventIds.ReplayReadFailed, Level = LogLevel.Error, Message = "Replay could not read the spill: {Error}")]
    private static partial void LogReplayIoError(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.ShutdownFlushGaveUp, Level = LogLevel.Warning,
        Message = "Shutdown: Kafka acknowledged nothing for a second ({InFlight} records in flight after {Seconds:0.0} s of flushing); taking them back into the spill")]
    private static partial void LogFlushGaveUp(ILogger logger, long inFlight, double seconds);

    [LoggerMessage(EventId = EventIds.KafkaPurgeFailed, Level = LogLevel.Warning, Message = "rd_kafka_purge failed: {Code} {Reason}")]
    private static partial void LogPurgeFailed(ILogger logger, ErrorCode code, string reason);
}
