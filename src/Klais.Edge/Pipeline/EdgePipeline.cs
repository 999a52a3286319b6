using System.Diagnostics;
using Klais.Contracts.Wire;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Dedupe;
using Klais.Edge.Receive;
using Klais.Net;

namespace Klais.Edge.Pipeline;

/// <summary>
/// What happens to each datagram a receive thread hands over: parse in place, count a rejection or build the
/// <see cref="Admitted"/> record, drop duplicates (<see cref="DedupeTable"/>), offer it to the Dam, and record
/// receive-to-enqueue latency. Allocates nothing.
/// </summary>
/// <remarks>
/// Per-batch work (the latency sample, serving the producer's delivery reports) happens once at the end of each
/// receive batch (<see cref="EndBatch"/>), not per datagram: the latency of every datagram offered in a batch is
/// recorded as the time from <c>recvmmsg</c> returning to the batch's last decision, an upper bound for each of them.
/// </remarks>
/// <remarks>
/// Every datagram ends under exactly one outcome: a parser rejection, <c>duplicate</c>, or offered to the Dam
/// (<c>dam.received</c> = passed + dropped + queued). A record the Dam drops is forgotten by the dedupe window again,
/// so the device's retransmission of it is not mistaken for a duplicate.
/// </remarks>
internal sealed class EdgePipeline : IDatagramHandler
{
    private readonly Dam.Dam _dam;
    private readonly DevicePolicy? _policy;
    private readonly DedupeTable? _dedupe;
    private readonly DeviceActivity? _activity;
    private readonly int _maxPayloadBytes;
    private readonly bool _validateJson;
    private readonly long _unixNanosAtStart;
    private readonly long _timestampAtStart;
    private readonly double _nanosPerTick = 1e9 / Stopwatch.Frequency;
    private readonly Action? _beforeBatch;
    private readonly Action? _afterBatch;

    [ThreadStatic]
    private static int t_offered;

    /// <param name="beforeBatch">Run on the receive thread before each batch (the producer holds its client open for the batch).</param>
    /// <param name="afterBatch">Run on the receive thread after each batch, also when <paramref name="beforeBatch"/> threw (the producer ends that hold and serves its delivery reports there).</param>
    public EdgePipeline(Dam.Dam dam, int maxPayloadBytes, bool validateJson, TimeProvider time, DedupeTable? dedupe = null, DevicePolicy? policy = null,
        DeviceActivity? activity = null, Action? beforeBatch = null, Action? afterBatch = null)
    {
        _beforeBatch = beforeBatch;
        _afterBatch = afterBatch;
        _activity = activity;
        _dam = dam;
        _dedupe = dedupe;
        _policy = policy;
        _maxPayloadBytes = maxPayloadBytes;
        _validateJson = validateJson;

        // Receive timestamps are Stopwatch ticks from the batch; the wall-clock header is derived from one
        // anchor taken here instead of a clock read per datagram.
        _timestampAtStart = Stopwatch.GetTimestamp();
        _unixNanosAtStart = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
    }

    public DedupeTable? Dedupe => _dedupe;

    public RejectionCounters Rejections { get; } = new();

    public LatencyHistogram ReceiveToEnqueue { get; } = new();

    public void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp)
    {
        Rejection rejection = Datagram.TryParse(datagram, _maxPayloadBytes, _validateJson, out DatagramHeader header, out ReadOnlySpan<byte> payload);
        if (rejection != Rejection.None)
        {
            Rejections.Increment(rejection);
            return;
        }

        // Blocklist and per-device limits before dedupe, so a blocked device's sequences are not remembered as seen:
        // a no-op when XDP enforces them in the kernel.
        rejection = _policy?.Check(header.DeviceKey) ?? Rejection.None;
        if (rejection != Rejection.None)
        {
            Rejections.Increment(rejection);
            return;
        }

        if (_dedupe is not null && _dedupe.Check(header.DeviceKey, header.Sequence, receivedTimestamp) != DedupeVerdict.New)
        {
            Rejections.Increment(Rejection.Duplicate);
            _activity?.RecordDuplicate(header.DeviceKey, Datagram.DeviceIdText(datagram, header), header.Sequence);
            return;
        }

        // Per-device counts for the control plane's reports (a fixed table, no allocation).
        _activity?.Record(header.DeviceKey, Datagram.DeviceIdText(datagram, header), datagram.Length, header.Sequence, source);

        long unixNanos = _unixNanosAtStart + (long)((receivedTimestamp - _timestampAtStart) * _nanosPerTick);
        var record = new Admitted(Datagram.DeviceIdText(datagram, header), header.Sequence, payload, unixNanos);
        // The batch's timestamp lets every datagram of one recvmmsg batch share one token lease: no clock read and
        // no atomic per datagram (8.7x TokenBucketRateLimiter instead of 0.6x; docs/BENCHMARKS.md). Receive
        // timestamps are Stopwatch ticks, the same clock as TimeProvider.System.GetTimestamp().
        if (_dam.Offer(in record, receivedTimestamp) == DamOutcome.Dropped)
        {
            _dedupe?.Forget(header.DeviceKey, header.Sequence);
        }

        t_offered++;
    }

    public void BeginBatch() => _beforeBatch?.Invoke();

    /// <summary>
    /// Starts loading the device's dedupe set and activity slot: the receive thread calls this for a whole batch before
    /// handling it, so the batch's cache misses on those tables (spread over megabytes, so mostly missed) overlap
    /// instead of stalling each datagram in turn. A datagram too short to carry a device id is left for
    /// <see cref="Handle"/> to reject.
    /// </summary>
    public void Prefetch(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length >= Datagram.HeaderLength && (_dedupe is not null || _activity is not null))
        {
            ulong key = DeviceKey.Compute(datagram.Slice(Datagram.DeviceIdOffset, Datagram.DeviceIdLength));
            _dedupe?.Prefetch(key);
            _activity?.Prefetch(key);
        }
    }

    public void EndBatch(long receivedTimestamp)
    {
        if (t_offered > 0)
        {
            ReceiveToEnqueue.RecordTicks(Stopwatch.GetTimestamp() - receivedTimestamp, t_offered);
            t_offered = 0;
        }

        _afterBatch?.Invoke();
    }
}
