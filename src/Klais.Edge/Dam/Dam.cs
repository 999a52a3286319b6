using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Klais.Edge.Dam;

/// <summary>What <see cref="Dam.Offer(in Admitted)"/> did with a record.</summary>
internal enum DamOutcome
{
    /// <summary>Handed to the sink now.</summary>
    Passed,

    /// <summary>Copied into the overflow queue; the drainer delivers it later, in order.</summary>
    Queued,

    /// <summary>The queue was full (by count or bytes): dropped and counted.</summary>
    Dropped,
}

/// <summary>
/// Rate limiter in front of the Kafka producer: a lock-free GCRA token bucket (<see cref="TokenBucket"/>)
/// plus a bounded FIFO overflow queue (<see cref="OverflowQueue"/>). Tokens and an empty queue → pass;
/// otherwise queue (new arrivals never overtake queued records); queue full → drop. One drainer
/// (<see cref="RunAsync"/>, <see cref="DrainOnce"/>, <see cref="DrainAll"/>) empties the queue as tokens refill.
/// </summary>
/// <remarks>
/// Pass path cost: no lock and, with the batch overload <see cref="Offer(in Admitted, long)"/>, no atomic
/// per record either: each receive thread leases up to <see cref="LeaseChunk"/> tokens in one CAS for its
/// batch and counts passes in its own cache line.
/// Back-pressure: a record the sink refuses on the pass path has paid its token; it is queued marked
/// "paid" and the drainer does not charge it again.
/// Accepted races: a thread that read "queue empty" just before another thread queued a record may pass
/// after it; records from one device arrive on one receive thread (SO_REUSEPORT hashes the 4-tuple), so
/// per-device order holds. Tokens leased by a receive thread for one batch (at most LeaseChunk − 1 left
/// over) are refunded at its next offer, not at once; <see cref="Tokens"/> does not show them meanwhile.
/// </remarks>
internal sealed class Dam : IDisposable
{
    /// <summary>64: one recvmmsg batch; a thread needs one CAS per batch, not per record.</summary>
    internal const int LeaseChunk = 64;

    private static readonly TimeSpan MinWait = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(100);

    [ThreadStatic]
    private static Lane? t_lane;

    private readonly IDamSink _sink;
    private readonly TimeProvider _time;
    private readonly TokenBucket _bucket;
    private readonly OverflowQueue _queue;
    private readonly int _baseMessages;
    private readonly int _baseBytes;
    private readonly ConcurrentDictionary<int, Lane> _laneByThread = new();
    private readonly Lock _laneGate = new();
    private readonly Lock _drainGate = new();
    private readonly SemaphoreSlim _wake = new(0);
    private Lane[] _lanes = [];
    private long _drained;
    private long _queuedTotal;
    private long _dropped;
    private double _queueScale = 1;

    public Dam(DamOptions options, IDamSink sink, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        DamOptions.ThrowIfInvalid(options.Validate());
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _bucket = new TokenBucket(options.MaxRate, options.BurstSize, time);
        _baseMessages = options.QueueMaxMessages;
        _baseBytes = options.QueueMaxBytes;
        _queue = new OverflowQueue(_baseMessages, _baseBytes, Scaled(_baseMessages, DamOptions.MaxQueueScale, Array.MaxLength), Scaled(_baseBytes, DamOptions.MaxQueueScale, Array.MaxLength));
    }

    /// <summary>Every offer: Passed + Dropped + QueueDepth at quiescence.</summary>
    public long Received => DirectPasses() + Queued + Dropped;

    /// <summary>Delivered to the sink, directly or from the queue.</summary>
    public long Passed => DirectPasses() + Volatile.Read(ref _drained);

    /// <summary>Records ever put into the queue (including those the sink refused on the pass path).</summary>
    public long Queued => Volatile.Read(ref _queuedTotal);

    public long Dropped => Volatile.Read(ref _dropped);

    public int QueueDepth => _queue.Count;

    public long QueueBytes => _queue.Bytes;

    /// <summary>Records the overflow queue accepts at most now: the configured bound times <see cref="QueueScale"/>.</summary>
    public int QueueMaxMessages => _queue.MaxMessages;

    /// <summary>Bytes the overflow queue accepts at most now: the configured bound times <see cref="QueueScale"/>.</summary>
    public int QueueMaxBytes => _queue.MaxBytes;

    /// <summary>The multiplier of the configured queue bounds in force (1 unless the control plane set another).</summary>
    public double QueueScale => Volatile.Read(ref _queueScale);

    /// <summary>Whole tokens in the bucket now (tokens leased to a receive thread's batch excluded).</summary>
    public long Tokens => _bucket.Tokens(_time.GetTimestamp());

    public double CurrentRate => _bucket.Rate;

    public long CurrentBurst => _bucket.Burst;

    /// <summary>Offers one record, reading the clock. Takes exactly one token when it passes.</summary>
    public DamOutcome Offer(in Admitted record) => OfferCore(record, _time.GetTimestamp(), 1);

    /// <summary>
    /// Offers one record of a receive batch. <paramref name="batchTimestamp"/> is the batch's time from this
    /// Dam's <see cref="TimeProvider"/> (<see cref="Stopwatch.GetTimestamp"/> in production): records with
    /// the same timestamp share a lease of up to <see cref="LeaseChunk"/> tokens.
    /// </summary>
    public DamOutcome Offer(in Admitted record, long batchTimestamp) => OfferCore(record, batchTimestamp, LeaseChunk);

    /// <summary>New rate and burst from the next offer on; tokens held now are kept, capped at the new burst.</summary>
    public void Reconfigure(double maxRate, long burstSize)
    {
        DamOptions.ThrowIfInvalid(DamOptions.ValidateRate(maxRate, burstSize));
        _bucket.Reconfigure(maxRate, burstSize, _time.GetTimestamp());
    }

    /// <summary>
    /// Sets the overflow queue's bounds to the configured ones times <paramref name="scale"/>
    /// (<see cref="DamOptions.MinQueueScale"/> to <see cref="DamOptions.MaxQueueScale"/>). Shrinking drops nothing:
    /// the queue refuses new records until it has drained below the new bound. The pass path is not involved.
    /// </summary>
    public void Rescale(double scale)
    {
        DamOptions.ThrowIfInvalid(DamOptions.ValidateQueueScale(scale));
        _queue.Resize(Scaled(_baseMessages, scale, _queue.CapacityMessages), Scaled(_baseBytes, scale, _queue.CapacityBytes));
        Volatile.Write(ref _queueScale, scale);
    }

    /// <summary>Delivers queued records, oldest first, as far as tokens allow now; returns how many.</summary>
    public int DrainOnce() => DrainOnce(out _);

    /// <summary>
    /// The drainer: delivers as tokens refill, parks while the queue is empty and backs off (1 ms doubling
    /// to 100 ms) while the sink refuses. Returns when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        TimeSpan backoff = MinWait;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                DrainOnce(out bool refused);
                if (refused)
                {
                    await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                    continue;
                }

                backoff = MinWait;
                if (_queue.Count == 0)
                {
                    await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                // 1 ms at least: the timer's resolution; one wake drains every token due by then.
                TimeSpan due = _bucket.UntilNextToken(_time.GetTimestamp());
                await Task.Delay(due < MinWait ? MinWait : due, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// For shutdown (SIGTERM): delivers everything queued, ignoring the rate because the process is
    /// stopping and the queue would otherwise be lost. Retries a refusing sink until
    /// <paramref name="timeout"/> (wall-clock: it is the orchestrator's grace period) runs out.
    /// Stop the receive threads first. Returns whether the queue is empty.
    /// </summary>
    public bool DrainAll(TimeSpan timeout)
    {
        long start = Stopwatch.GetTimestamp();
        int backoffMs = 1;
        lock (_drainGate)
        {
            while (_queue.TryPeek(out OverflowQueue.Entry entry))
            {
                if (_sink.TryDeliver(_queue.View(entry)))
                {
                    _queue.Dequeue();
                    Volatile.Write(ref _drained, _drained + 1);
                    continue;
                }

                TimeSpan left = timeout - Stopwatch.GetElapsedTime(start);
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                Thread.Sleep(Math.Min(backoffMs, (int)Math.Ceiling(left.TotalMilliseconds)));
                backoffMs = Math.Min(backoffMs * 2, (int)MaxBackoff.TotalMilliseconds);
            }
        }

        return _queue.Count == 0;
    }

    /// <summary>Releases the drainer's wake-up semaphore; stop <see cref="RunAsync"/> first.</summary>
    public void Dispose() => _wake.Dispose();

    private DamOutcome OfferCore(in Admitted record, long now, int want)
    {
        Lane lane = CurrentLane();
        if (_queue.Count != 0)
        {
            // FIFO: never overtake a queued record. Give back a lease so the drainer can use it.
            ReturnLease(lane);
            return Enqueue(record, paid: false);
        }

        if (lane.Leased == 0 || lane.LeaseStamp != now)
        {
            ReturnLease(lane);
            lane.Leased = _bucket.TryTake(now, want);
            lane.LeaseStamp = now;
            if (lane.Leased == 0)
            {
                return Enqueue(record, paid: false);
            }
        }

        lane.Leased--;
        if (_sink.TryDeliver(record))
        {
            Volatile.Write(ref lane.Passed, lane.Passed + 1);
            return DamOutcome.Passed;
        }

        return Enqueue(record, paid: true);
    }

    private void ReturnLease(Lane lane)
    {
        if (lane.Leased != 0)
        {
            _bucket.Refund(lane.Leased);
            lane.Leased = 0;
        }
    }

    private DamOutcome Enqueue(in Admitted record, bool paid)
    {
        if (!_queue.TryEnqueue(record, paid, out bool wasEmpty))
        {
            Interlocked.Increment(ref _dropped);
            return DamOutcome.Dropped;
        }

        Interlocked.Increment(ref _queuedTotal);
        if (wasEmpty && _wake.CurrentCount == 0)
        {
            _wake.Release();
        }

        return DamOutcome.Queued;
    }

    private int DrainOnce(out bool refused)
    {
        refused = false;
        int delivered = 0;
        lock (_drainGate)
        {
            long now = _time.GetTimestamp();
            while (_queue.TryPeek(out OverflowQueue.Entry entry))
            {
                if (!entry.Paid && _bucket.TryTake(now, 1) == 0)
                {
                    break;
                }

                if (!_sink.TryDeliver(_queue.View(entry)))
                {
                    // The token is spent; mark the record so the retry does not charge it again.
                    if (!entry.Paid)
                    {
                        _queue.MarkOldestPaid();
                    }

                    refused = true;
                    break;
                }

                _queue.Dequeue();
                delivered++;
            }

            Volatile.Write(ref _drained, _drained + delivered);
        }

        return delivered;
    }

    private static int Scaled(int configured, double scale, int limit) => (int)Math.Clamp(Math.Round(configured * scale), 1, limit);

    private long DirectPasses()
    {
        long sum = 0;
        foreach (Lane lane in Volatile.Read(ref _lanes))
        {
            sum += Volatile.Read(ref lane.Passed);
        }

        return sum;
    }

    private Lane CurrentLane()
    {
        Lane? lane = t_lane;
        return lane is not null && ReferenceEquals(lane.Owner, this) ? lane : AttachLane();
    }

    private Lane AttachLane()
    {
        // A reused thread id inherits a dead thread's lane: still one writer at a time.
        Lane lane = _laneByThread.GetOrAdd(Environment.CurrentManagedThreadId, static (_, dam) => dam.NewLane(), this);
        t_lane = lane;
        return lane;
    }

    private Lane NewLane()
    {
        var lane = new Lane(this);
        lock (_laneGate)
        {
            _lanes = [.. _lanes, lane];
        }

        return lane;
    }

    /// <summary>
    /// One receive thread's share: its token lease and its pass count. Written only by that thread; padded
    /// to 128 bytes (two cache lines, as the adjacent-line prefetcher pairs them) so lanes never share one.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private sealed class Lane(Dam owner)
    {
        public readonly Dam Owner = owner;
        public long Passed;
        public long Leased;
        public long LeaseStamp;
        private readonly Padding _padding;

        [StructLayout(LayoutKind.Explicit, Size = 112)]
        private struct Padding
        {
        }
    }
}
