using System.Diagnostics;
using Confluent.Kafka;
using Klais.Edge.Configuration;
using Klais.Edge.Dam;
using Klais.Edge.Hosting;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Kafka;

/// <summary>
/// The edge's Kafka producer: what the Dam lets through goes to <see cref="KafkaProducerOptions.Topic"/>
/// with key = device id, value = payload, headers <c>seq</c> (u32 big-endian), <c>edge</c> (node id,
/// UTF-8) and <c>ts</c> (receive time, i64 big-endian Unix nanoseconds). Idempotent, acks=all.
/// <para>
/// Back-pressure: at most <see cref="KafkaProducerOptions.MaxInFlightMessages"/> records are between
/// <see cref="TryDeliver"/> and their delivery report; beyond that <see cref="TryDeliver"/> returns false
/// and the Dam holds the record. librdkafka's own queue is sized above that cap, so it never overflows
/// first; should it anyway (Local_QueueFull), the answer is also false and nothing is lost.
/// </para>
/// <para>
/// Every record in flight is also copied into an <see cref="InFlightRecord"/>, so that when librdkafka gives one
/// back (purged, timed out) an <see cref="IDeliveryObserver"/> can spill it instead of losing it.
/// </para>
/// <para>
/// The client is librdkafka itself (<see cref="NativeProducer"/>), not Confluent's managed layer: a record is one
/// <c>rd_kafka_produceva</c> call whose opaque is its slot's index in a fixed table, and delivery reports, errors,
/// logs and statistics arrive as events that one thread of ours (<c>klais-kafka-events</c>) takes in batches, with no
/// managed object per record (docs/design/edge-produce-path.md). Confluent.Kafka's types name error codes and
/// persistence statuses (their values are librdkafka's).
/// </para>
/// <para>
/// Linger advice (<see cref="AdviseLinger"/>): librdkafka cannot change <c>linger.ms</c> once the producer exists, so
/// while the control plane advises a longer linger than the configured one the producer holds records itself: each
/// reserved and copied record joins a FIFO, and a timer hands the FIFO to librdkafka, in order, every
/// (advice − configured) ms, or at once when the held bytes reach <see cref="KafkaProducerOptions.BatchSizeBytes"/>.
/// librdkafka then sends fewer, larger batches. Held records count as in flight. While the FIFO is not empty every
/// new record goes behind it, and records leave it only under its lock, so none overtakes a held one.
/// </para>
/// Thread-safe: several receive threads may call <see cref="TryDeliver"/> at once.
/// </summary>
internal sealed partial class TelemetryProducer : IDamSink, INativeProducerEvents, IDisposable
{
    /// <summary>How long the event thread waits for an event before it looks at the stop flag again.</summary>
    private const int EventPollMs = 100;

    /// <summary>Receive threads that served reports this recently (ms) are serving them: the event thread leaves them to it.</summary>
    private const long ReceiverServingMs = 3;

    /// <summary>Events a receive thread serves after one batch at most, so that a backlog of reports does not hold up receiving.</summary>
    private const int EventsPerBatch = 4;

    private readonly NativeProducer _producer;
    private readonly Thread _events;
    private readonly ILogger _logger;
    private readonly string _topic;
    private readonly int _maxInFlight;
    private readonly Lock _poolGate = new();

    // The slot table: a record's opaque is its slot's index. It grows (under _poolGate) to the most records ever in
    // flight at once, at most the in-flight cap, then stays; _free holds the indices of slots not in use.
    private InFlightRecord[] _slots;
    private int[] _free;
    private int _freeCount;
    private int _created;
    private volatile bool _stopEvents;

    // One thread at a time takes events off the queue: a receive thread after its batch, or the event thread.
    private readonly Lock _eventGate = new();
    private long _receiverServedAt = long.MinValue / 2;
    private readonly TimeProvider _time;
    private readonly int _configuredLingerMs;
    private readonly int _batchSizeBytes;
    private readonly Lock _heldGate = new();
    private readonly Queue<InFlightRecord> _held = new();
    private ITimer? _holdTimer;
    private long _heldBytes;
    private int _heldCount;
    private int _holdMs;
    private int _holding;
    private IDeliveryObserver? _observer;
    private long _delivered;
    private long _failed;
    private long _returned;
    private long _returnedPossiblyPersisted;
    private long _inFlight;
    private long _produceOrder;
    private string? _lastError;
    private int _disposed;

    /// <param name="options">Validated settings.</param>
    /// <param name="logger">Where the producer and librdkafka log.</param>
    /// <param name="time">Clock of the linger-advice hold's timer; tests pass a manual one.</param>
    public TelemetryProducer(KafkaProducerOptions options, ILogger<TelemetryProducer> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsValidation.ThrowIfInvalid(options.Validate(), nameof(options));

        Librdkafka.EnsureLoaded();
        _logger = logger;
        _topic = options.Topic;
        _maxInFlight = options.MaxInFlightMessages;
        _time = time ?? TimeProvider.System;
        _configuredLingerMs = options.LingerMs;
        _batchSizeBytes = options.BatchSizeBytes;
        int initialSlots = Math.Min(_maxInFlight, 1024);
        _slots = new InFlightRecord[initialSlots];
        _free = new int[initialSlots];
        _producer = new NativeProducer(ProducerConfig(options), _topic, options.NodeId, options.RecordFormat);
        _events = new Thread(ServeEvents) { IsBackground = true, Name = "klais-kafka-events" };
        _events.Start();
        LogStarted(_logger, options.BootstrapServers, _topic, options.NodeId, _maxInFlight);
    }

    /// <summary>Records acknowledged by Kafka (acks=all).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Records that will never be delivered: message timeout expired, or rejected by the client or broker.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Records librdkafka gave back (purged, timed out) and handed to the <see cref="Observer"/>.</summary>
    public long Returned => Interlocked.Read(ref _returned);

    /// <summary>Of <see cref="Returned"/>, those that had been sent: the broker may have written them (re-sending may duplicate).</summary>
    public long ReturnedPossiblyPersisted => Interlocked.Read(ref _returnedPossiblyPersisted);

    /// <summary>
    /// Who takes records librdkafka gives back. Without one, every delivery error counts as <see cref="Failed"/>.
    /// Set before the first record.
    /// </summary>
    public IDeliveryObserver? Observer
    {
        get => Volatile.Read(ref _observer);
        set => Volatile.Write(ref _observer, value);
    }

    public string Topic => _topic;

    /// <summary>Records taken by <see cref="TryDeliver"/> whose delivery report has not arrived yet.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>The linger in force: the configured <c>linger.ms</c>, or the longer one the control plane advised.</summary>
    public int LingerMs => _configuredLingerMs + Volatile.Read(ref _holdMs);

    /// <summary>Records held back by the linger advice (reserved, counted in <see cref="InFlight"/>, not yet in librdkafka).</summary>
    public int Held => Volatile.Read(ref _heldCount);

    /// <summary>Text of the last delivery or client error, or null.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <inheritdoc />
    public bool TryDeliver(in Admitted record) => TryProduce(record, InFlightRecord.Direct);

    /// <summary>
    /// Hands one record to librdkafka; <paramref name="ticket"/> comes back with its <see cref="InFlightRecord"/> in
    /// the observer's callbacks (<see cref="InFlightRecord.Direct"/> for records from the Dam). False: at the in-flight
    /// cap or librdkafka's queue is full; nothing was taken.
    /// </summary>
    public bool TryProduce(in Admitted record, long ticket) => TryReserve() && ProduceReserved(record, ticket);

    /// <summary>
    /// Produces a record from the Dam only while <paramref name="gate"/> still reads <paramref name="open"/>;
    /// otherwise <paramref name="closed"/> is true and nothing was taken. The in-flight count goes up before the
    /// gate is read, so whoever closes the gate and then waits for <see cref="InFlight"/> to reach 0 (after a
    /// <see cref="Purge"/>) cannot miss a record that slipped through just before.
    /// </summary>
    public bool TryProduceWhile(in Admitted record, ref int gate, int open, out bool closed)
    {
        closed = false;
        if (!TryReserve())
        {
            return false;
        }

        if (Volatile.Read(ref gate) != open)
        {
            Interlocked.Decrement(ref _inFlight);
            closed = true;
            return false;
        }

        return ProduceReserved(record, InFlightRecord.Direct);
    }

    private bool TryReserve()
    {
        // Increment first, then check: the cap is never exceeded, at the price of an occasional false
        // "full" when two threads race at the limit. The Dam simply retries that record later.
        if (Interlocked.Increment(ref _inFlight) > _maxInFlight)
        {
            Interlocked.Decrement(ref _inFlight);
            return false;
        }

        return true;
    }

    private bool ProduceReserved(in Admitted record, long ticket)
    {
        InFlightRecord slot = Rent();
        slot.Fill(record, ticket, Interlocked.Increment(ref _produceOrder), _producer);
        if (Volatile.Read(ref _holding) != 0)
        {
            Hold(slot);
            return true;
        }

        if (Send(slot))
        {
            return true;
        }

        Release(slot);
        return false;
    }

    /// <summary>
    /// Hands a filled slot to librdkafka, which sends the record from the slot itself (no copy of the value; the slot
    /// is not reused before the record's report). False only for back-pressure (Local_QueueFull) or a closed
    /// producer: the slot is still the caller's. Any other error takes the record (released and counted failed).
    /// </summary>
    private unsafe bool Send(InFlightRecord slot)
    {
        int error = _producer.ProduceUncopied(slot.Key, slot.Value, slot.ValueLength, slot.Sequence, slot.ReceivedUnixNanos, slot.Index);
        if (error == 0)
        {
            return true;
        }

        // Back-pressure, or the producer is closed (a stop racing the Dam's last offers): the record stays the
        // caller's, for the Dam or the spill to keep.
        if (error is (int)ErrorCode.Local_QueueFull or NativeProducer.Destroyed)
        {
            return false;
        }

        // Not back-pressure (e.g. record too large, fatal idempotence error): the record is taken and counted failed.
        Release(slot);
        RecordFailure(error == (int)ErrorCode.Local_Fatal && _producer.FatalError() is { } fatal
            ? new Error(ErrorCode.Local_Fatal, fatal, isFatal: true)
            : new Error((ErrorCode)error));
        return true;
    }

    /// <summary>
    /// Applies the control plane's linger advice: <paramref name="lingerMs"/> above the configured linger turns the
    /// hold on (records wait lingerMs − configured ms in the producer), anything else (0 = none) turns it off and
    /// hands what is held to librdkafka now. Call from one thread (the control follower).
    /// </summary>
    public void AdviseLinger(int lingerMs)
    {
        int extra = Math.Max(0, lingerMs - _configuredLingerMs);
        lock (_heldGate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            Volatile.Write(ref _holdMs, extra);
            if (extra > 0)
            {
                Volatile.Write(ref _holding, 1);
                _holdTimer ??= _time.CreateTimer(static p => ((TelemetryProducer)p!).OnHoldTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _holdTimer.Change(TimeSpan.FromMilliseconds(extra), TimeSpan.FromMilliseconds(extra));
            }
            else
            {
                ReleaseHeld();
            }
        }
    }

    private void Hold(InFlightRecord slot)
    {
        lock (_heldGate)
        {
            _held.Enqueue(slot);
            _heldBytes += slot.Length;
            Volatile.Write(ref _heldCount, _held.Count);

            // The hold went off after this thread read it on: the FIFO goes out now, this record last.
            if (_holdMs == 0 || _heldBytes >= _batchSizeBytes)
            {
                ReleaseHeld();
            }
        }
    }

    private void OnHoldTimer()
    {
        lock (_heldGate)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                ReleaseHeld();
            }
        }
    }

    /// <summary>
    /// Under <see cref="_heldGate"/>: hands the held records to librdkafka, oldest first. Should librdkafka's queue be
    /// full (it is sized above the in-flight cap, so it should not), the rest waits for the next tick. Once the FIFO
    /// is empty and the hold is off, new records take the direct path again.
    /// </summary>
    private void ReleaseHeld()
    {
        while (_held.TryPeek(out InFlightRecord? slot))
        {
            // Read before Send: once produced, the slot may be delivered, released and reused on another thread.
            int length = slot.Length;
            if (!Send(slot))
            {
                break;
            }

            _held.Dequeue();
            _heldBytes -= length;
        }

        Volatile.Write(ref _heldCount, _held.Count);
        if (_holdMs == 0 && _held.Count == 0)
        {
            Volatile.Write(ref _holding, 0);
            _holdTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Fails the records librdkafka holds through the delivery handlers, which hand them to the <see cref="Observer"/>
    /// as returned: those not sent yet, and with <paramref name="inFlight"/> also those sent and not answered (the
    /// broker may still write them). Reports arrive on the poll thread after this returns; wait for
    /// <see cref="InFlight"/> to reach 0. Records held by the linger advice never reached librdkafka: they go to the
    /// observer first, on this thread, exactly as librdkafka reports a purged queued record (Local_PurgeQueue, not
    /// persisted), keeping their <see cref="InFlightRecord.Order"/>.
    /// </summary>
    public void Purge(bool inFlight)
    {
        InFlightRecord[] held;
        lock (_heldGate)
        {
            held = [.. _held];
            _held.Clear();
            _heldBytes = 0;
            Volatile.Write(ref _heldCount, 0);
            if (_holdMs == 0)
            {
                Volatile.Write(ref _holding, 0);
            }
        }

        foreach (InFlightRecord slot in held)
        {
            var purged = new NativeDeliveryReport(slot.Index, (int)ErrorCode.Local_PurgeQueue, (int)PersistenceStatus.NotPersisted);
            HandleReports(new ReadOnlySpan<NativeDeliveryReport>(in purged));
        }

        int error = _producer.Purge(inFlight);
        if (error != 0)
        {
            throw new KafkaException((ErrorCode)error);
        }
    }

    /// <summary>
    /// The circuit breaker's half-open probe: a metadata request for the topic over this producer's own connections.
    /// True when a broker answered and every partition has a leader.
    /// </summary>
    public bool Probe(TimeSpan timeout, out string problem) => _producer.ProbeTopic(timeout, out problem);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for every record taken so far to be acknowledged or failed
    /// (SIGTERM path). True when nothing is left in flight and no record failed while flushing, i.e.
    /// everything that was in flight was delivered.
    /// </summary>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="logIncomplete">Log a warning when records are left in flight (off for a flush in slices).</param>
    public bool Flush(TimeSpan timeout, bool logIncomplete = true)
    {
        long failedBefore = Failed;
        var elapsed = Stopwatch.StartNew();
        lock (_heldGate)
        {
            ReleaseHeld();
        }

        // librdkafka waits for its out queue, reports not yet taken by the event thread included, to empty.
        _producer.Flush((int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));

        // The last reports may still be in the observer.
        TimeSpan left = timeout - elapsed.Elapsed;
        bool drained = SpinWait.SpinUntil(() => InFlight == 0, left > TimeSpan.Zero ? left : TimeSpan.Zero);
        if (!drained && logIncomplete)
        {
            LogFlushIncomplete(_logger, InFlight, timeout);
        }

        return drained && Failed == failedBefore;
    }

    /// <summary>Closes the producer without flushing: call <see cref="Flush"/> first to keep what is in flight.</summary>
    public void Dispose()
    {
        lock (_heldGate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _holdTimer?.Dispose();
            ReleaseHeld();
        }

        _stopEvents = true;
        _events.Join();
        _producer.Dispose();
    }

    private static ProducerConfig ProducerConfig(KafkaProducerOptions options) => new()
    {
        BootstrapServers = options.BootstrapServers,
        ClientId = $"klais-edge-{options.NodeId}",
        EnableIdempotence = true,
        Acks = Acks.All,
        CompressionType = options.Compression,
        LingerMs = options.LingerMs,
        BatchSize = options.BatchSizeBytes,
        MessageTimeoutMs = options.MessageTimeoutMs,

        // Twice our own cap: librdkafka frees a record just after its delivery handler has run, so its
        // count can briefly exceed ours; this margin keeps Local_QueueFull from ever being the limit.
        QueueBufferingMaxMessages = (int)Math.Min(2L * options.MaxInFlightMessages, int.MaxValue),

        StatisticsIntervalMs = options.StatisticsIntervalMs,

        // After an outage, reconnect within a second of the brokers' return instead of librdkafka's 10 s backoff cap.
        ReconnectBackoffMaxMs = 1000,
    };

    /// <summary>
    /// A receive thread's batch begins: the client is held open on this thread until <see cref="EndReceiveBatch"/>, so
    /// the batch's records take no reference on it one by one (<see cref="NativeProducer.BeginHold"/>).
    /// </summary>
    public void BeginReceiveBatch() => _producer.BeginHold();

    /// <summary>A receive thread's batch has ended: the hold ends, and the delivery reports waiting now are served (<see cref="ServeReports"/>).</summary>
    public void EndReceiveBatch()
    {
        _producer.EndHold();
        ServeReports();
    }

    /// <summary>
    /// Serves delivery reports (and any other event) waiting now, at most a few events; for a receive thread after
    /// each batch. Under load the records are freed by the thread that made them: librdkafka allocates each record
    /// and its headers with malloc on the producing thread, and freeing them there keeps glibc's allocator on its
    /// lock-free per-thread path instead of two threads contending for one arena (the profile's largest cost after
    /// the copy out of the kernel; docs/design/edge-produce-path.md). Another thread already serving: nothing to do.
    /// </summary>
    public void ServeReports()
    {
        Volatile.Write(ref _receiverServedAt, Environment.TickCount64);
        if (!_eventGate.TryEnter())
        {
            return;
        }

        try
        {
            for (int i = 0; i < EventsPerBatch && _producer.Poll(0, this) >= 0; i++)
            {
            }
        }
        finally
        {
            _eventGate.Exit();
        }
    }

    /// <summary>
    /// The event thread: serves librdkafka's event queue until <see cref="Dispose"/> whenever no receive thread is
    /// doing so (idle, stopping, spilling, or no receive path at all); it checks again every few milliseconds.
    /// </summary>
    private void ServeEvents()
    {
        while (!_stopEvents)
        {
            if (Environment.TickCount64 - Volatile.Read(ref _receiverServedAt) < ReceiverServingMs)
            {
                Thread.Sleep((int)ReceiverServingMs);
                continue;
            }

            lock (_eventGate)
            {
                _producer.Poll(EventPollMs, this);
            }
        }
    }

    void INativeProducerEvents.OnDeliveryReports(ReadOnlySpan<NativeDeliveryReport> reports) => HandleReports(reports);

    void INativeProducerEvents.OnError(int code, string reason, bool fatal) => OnClientError(new Error((ErrorCode)code, reason, fatal));

    void INativeProducerEvents.OnLog(int level, string facility, string text) => LogLibrdkafka(_logger, ToLogLevel((SyslogLevel)level), facility, text);

    void INativeProducerEvents.OnStatistics(string json) => LogStatistics(_logger, json);

    /// <summary>
    /// A batch of reports (the event thread), or one for a held record (<see cref="Purge"/>): counts them, tells the
    /// observer in report order, and only then frees their slots, so that <see cref="InFlight"/> reaching 0 means every
    /// report has been handled, observer included.
    /// </summary>
    private void HandleReports(ReadOnlySpan<NativeDeliveryReport> reports)
    {
        InFlightRecord[] slots = Volatile.Read(ref _slots);
        IDeliveryObserver? observer = Observer;
        long delivered = 0;
        foreach (NativeDeliveryReport report in reports)
        {
            if (report.Error == 0)
            {
                delivered++;
            }
        }

        Interlocked.Add(ref _delivered, delivered);
        foreach (NativeDeliveryReport report in reports)
        {
            InFlightRecord slot = slots[(int)report.Opaque];
            var code = (ErrorCode)report.Error;
            if (code == ErrorCode.NoError)
            {
                observer?.OnDelivered(slot);
            }
            else if (observer is not null && !IsPermanent(code))
            {
                Interlocked.Increment(ref _returned);
                if (report.Status != (int)PersistenceStatus.NotPersisted)
                {
                    Interlocked.Increment(ref _returnedPossiblyPersisted);
                }

                observer.OnReturned(slot, code, (PersistenceStatus)report.Status);
            }
            else
            {
                RecordFailure(new Error(code));
            }
        }

        lock (_poolGate)
        {
            foreach (NativeDeliveryReport report in reports)
            {
                _free[_freeCount++] = (int)report.Opaque;
            }
        }

        Interlocked.Add(ref _inFlight, -reports.Length);
    }

    /// <summary>Errors no retry can fix: the record itself is unacceptable. Anything else may pass and is returned to the observer.</summary>
    private static bool IsPermanent(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge
        or ErrorCode.InvalidMsg or ErrorCode.InvalidMsgSize or ErrorCode.InvalidRecord or ErrorCode.Local_BadMsg
        or ErrorCode.TopicAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed or ErrorCode.TopicException;

    private InFlightRecord Rent()
    {
        lock (_poolGate)
        {
            if (_freeCount > 0)
            {
                return _slots[_free[--_freeCount]];
            }

            // Slots in use never outnumber the reserved records, so the table never passes the in-flight cap.
            int index = _created++;
            if (index == _slots.Length)
            {
                int length = (int)Math.Min((long)_slots.Length * 2, _maxInFlight);
                InFlightRecord[] slots = new InFlightRecord[length];
                _slots.CopyTo(slots, 0);
                _free = new int[length];
                Volatile.Write(ref _slots, slots);
            }

            var slot = new InFlightRecord(index);
            _slots[index] = slot;
            return slot;
        }
    }

    private void Release(InFlightRecord slot)
    {
        lock (_poolGate)
        {
            _free[_freeCount++] = slot.Index;
        }

        Interlocked.Decrement(ref _inFlight);
    }

    private void RecordFailure(Error error)
    {
        Interlocked.Increment(ref _failed);

        // Logged when the reason changes, not per record: a broker outage fails thousands the same way.
        string text = $"{error.Code}: {error.Reason}";
        if (Interlocked.Exchange(ref _lastError, text) != text)
        {
            LogDeliveryFailing(_logger, text);
        }
    }

    private void OnClientError(Error error)
    {
        Observer?.OnClientError(error);
        if (error.IsFatal)
        {
            Volatile.Write(ref _lastError, $"{error.Code}: {error.Reason}");
            LogFatalError(_logger, error.Code, error.Reason);
        }
        else
        {
            LogClientError(_logger, error.Code, error.Reason);
        }
    }

    private static LogLevel ToLogLevel(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    [LoggerMessage(EventId = EventIds.KafkaStarted, Level = LogLevel.Information, Message = "Kafka producer to {Bootstrap}, topic {Topic}, edge {NodeId}, at most {MaxInFlight} records in flight")]
    private static partial void LogStarted(ILogger logger, string bootstrap, string topic, string nodeId, int maxInFlight);

    [LoggerMessage(EventId = EventIds.Librdkafka, Message = "librdkafka {Facility}: {Text}")]
    private static partial void LogLibrdkafka(ILogger logger, LogLevel level, string facility, string text);

    [LoggerMessage(EventId = EventIds.KafkaClientError, Level = LogLevel.Warning, Message = "Kafka client error {Code}: {Reason} (librdkafka retries)")]
    private static partial void LogClientError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = EventIds.KafkaFatalError, Level = LogLevel.Critical, Message = "Kafka producer fatal error {Code}: {Reason}; no record can be delivered until the producer is recreated")]
    private static partial void LogFatalError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = EventIds.KafkaDeliveryFailing, Level = LogLevel.Warning, Message = "Kafka records failing: {Error} (logged again when the reason changes; see the Failed counter)")]
    private static partial void LogDeliveryFailing(ILogger logger, string error);

    [LoggerMessage(EventId = EventIds.KafkaStatistics, Level = LogLevel.Debug, Message = "librdkafka statistics {Json}")]
    private static partial void LogStatistics(ILogger logger, string json);

    [LoggerMessage(EventId = EventIds.KafkaFlushIncomplete, Level = LogLevel.Warning, Message = "Kafka flush: {InFlight} records still in flight after {Timeout}")]
    private static partial void LogFlushIncomplete(ILogger logger, long inFlight, TimeSpan timeout);
}
