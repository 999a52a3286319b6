using System.Collections.Concurrent;

namespace Klais.Grains.Runtime;

/// <summary>Something an operator should see: a block, an ownership change, a burst level.</summary>
public sealed record GrainEvent(long UnixMs, string SiloId, string Kind, string Grain, string Detail);

/// <summary>The newest events of this silo, bounded; written by the grain thread, read by the API.</summary>
public sealed class EventLog(int capacity = 1000)
{
    private readonly ConcurrentQueue<GrainEvent> _events = new();

    public void Add(GrainEvent e)
    {
        _events.Enqueue(e);
        while (_events.Count > capacity && _events.TryDequeue(out _))
        {
        }
    }

    public IReadOnlyList<GrainEvent> Snapshot() => [.. _events];
}
