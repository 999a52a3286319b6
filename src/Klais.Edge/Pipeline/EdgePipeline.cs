using System.Diagnostics;
using Klais.Contracts.Wire;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Receive;

namespace Klais.Edge.Pipeline;

/// <summary>
/// What happens to each datagram a receive thread hands over: parse in place, count a rejection or build the
/// <see cref="Admitted"/> record, offer it to the Dam, and record receive-to-enqueue latency. Allocates nothing.
/// Dedupe (issue: spill and dedupe) slots in between parse and Dam: the header already carries key and sequence.
/// </summary>
internal sealed class EdgePipeline : IDatagramHandler
{
    private readonly Dam.Dam _dam;
    private readonly DevicePolicy _policy;
    private readonly int _maxPayloadBytes;
    private readonly bool _validateJson;
    private readonly long _unixNanosAtStart;
    private readonly long _timestampAtStart;
    private readonly double _nanosPerTick = 1e9 / Stopwatch.Frequency;

    public EdgePipeline(Dam.Dam dam, DevicePolicy policy, int maxPayloadBytes, bool validateJson, TimeProvider time)
    {
        _dam = dam;
        _policy = policy;
        _maxPayloadBytes = maxPayloadBytes;
        _validateJson = validateJson;

        // Receive timestamps are Stopwatch ticks from the batch; the wall-clock header is derived from one
        // anchor taken here instead of a clock read per datagram.
        _timestampAtStart = Stopwatch.GetTimestamp();
        _unixNanosAtStart = (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
    }

    public RejectionCounters Rejections { get; } = new();

    public LatencyHistogram ReceiveToEnqueue { get; } = new();

    public void Handle(ReadOnlySpan<byte> datagram, long receivedTimestamp)
    {
        Rejection rejection = Datagram.TryParse(datagram, _maxPayloadBytes, _validateJson, out DatagramHeader header, out ReadOnlySpan<byte> payload);
        if (rejection != Rejection.None)
        {
            Rejections.Increment(rejection);
            return;
        }

        // Blocklist and per-device limits: a no-op when XDP enforces them in the kernel.
        rejection = _policy.Check(header.DeviceKey);
        if (rejection != Rejection.None)
        {
            Rejections.Increment(rejection);
            return;
        }

        long unixNanos = _unixNanosAtStart + (long)((receivedTimestamp - _timestampAtStart) * _nanosPerTick);
        var record = new Admitted(Datagram.DeviceIdText(datagram, header), header.Sequence, payload, unixNanos);
        // The batch's timestamp lets every datagram of one recvmmsg batch share one token lease: no clock read and
        // no atomic per datagram (8.7x TokenBucketRateLimiter instead of 0.6x; docs/BENCHMARKS.md). Receive
        // timestamps are Stopwatch ticks, the same clock as TimeProvider.System.GetTimestamp().
        _dam.Offer(in record, receivedTimestamp);
        ReceiveToEnqueue.RecordTicks(Stopwatch.GetTimestamp() - receivedTimestamp);
    }
}
