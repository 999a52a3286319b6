using Klais.Edge.Receive;

namespace Klais.Edge.Hosting;

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
internal sealed class IdleTrim(UdpReceiver receiver, TimeProvider time) : IAsyncDisposable
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(1);

    /// <summary>3 s: past start-up's last allocations (klais.control replay, the first reports) and a burst's tail.</summary>
    private const int QuietTicksBeforeCompaction = 3;

    private ITimer? _timer;
    private long _datagramsAtLastCheck;
    private int _quietTicks;

    /// <summary>Starts checking, once the receive threads run.</summary>
    public void Start() => _timer = time.CreateTimer(_ => TrimWhenIdle(), null, CheckPeriod, CheckPeriod);

    private void TrimWhenIdle()
    {
        // Callbacks take milliseconds against a 1 s period, so they do not overlap; no lock needed.
        long datagrams = receiver.Datagrams;
        if (datagrams == _datagramsAtLastCheck)
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

        _datagramsAtLastCheck = datagrams;
    }

    public ValueTask DisposeAsync() => _timer?.DisposeAsync() ?? ValueTask.CompletedTask;
}
