using Klais.Net;

namespace Klais.Edge.Receive;

/// <summary>
/// Called by a receive thread for every datagram of a batch, in arrival order for that socket.
/// The span is only valid during the call: the buffer is reused for the next batch.
/// Implementations must be thread-safe (one call at a time per receive thread, several threads).
/// </summary>
internal interface IDatagramHandler
{
    /// <param name="datagram">UDP payload as received.</param>
    /// <param name="source">Its sender's address and port.</param>
    /// <param name="receivedTimestamp"><see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the batch returned from recvmmsg.</param>
    void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp);

    /// <summary>Called once before the batch's first <see cref="Prefetch"/>, on the same thread; always followed by <see cref="EndBatch"/>.</summary>
    void BeginBatch()
    {
    }

    /// <summary>
    /// Called for every datagram of a batch before the first <see cref="Handle"/> of it: start fetching what handling it
    /// will read (per-device table entries), so those cache misses overlap instead of stalling one datagram at a time.
    /// </summary>
    void Prefetch(ReadOnlySpan<byte> datagram)
    {
    }

    /// <summary>Called once after the batch's last datagram, on the same thread: per-batch work goes here, not per datagram.</summary>
    /// <param name="receivedTimestamp">The batch's timestamp, as passed to <see cref="Handle"/>.</param>
    void EndBatch(long receivedTimestamp)
    {
    }
}
