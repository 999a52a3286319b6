using System.Collections.Concurrent;
using Klais.Contracts.Wire;
using Klais.Edge.Receive;
using Klais.Net;

namespace Klais.Edge.Tests.Receive;

/// <summary>Keeps a copy of every datagram and the thread that received it (allocates: for correctness tests only).</summary>
internal sealed class RecordingHandler : IDatagramHandler
{
    public ConcurrentQueue<byte[]> Datagrams { get; } = new();

    public ConcurrentDictionary<int, int> ByThread { get; } = new();

    public ConcurrentQueue<DatagramSource> Sources { get; } = new();

    public void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp)
    {
        Datagrams.Enqueue(datagram.ToArray());
        Sources.Enqueue(source);
        ByThread.AddOrUpdate(Environment.CurrentManagedThreadId, 1, static (_, n) => n + 1);
    }
}

/// <summary>Parses every datagram and counts the outcome per reason, allocating nothing.</summary>
internal sealed class ParsingHandler : IDatagramHandler
{
    private readonly long[] _byReason = new long[Enum.GetValues<Rejection>().Length];

    public long Count(Rejection reason) => Volatile.Read(ref _byReason[(int)reason]);

    public void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp)
    {
        Rejection result = Datagram.TryParse(datagram, maxPayloadBytes: 1024, validateJson: true, out _, out _);
        Interlocked.Increment(ref _byReason[(int)result]);
    }
}
