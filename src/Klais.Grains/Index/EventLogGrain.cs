using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>The newest events of the fleet (blocks, unblocks, degradation, burst levels), stored at most once a second.</summary>
internal sealed class EventLogGrain(
    [PersistentState("events", StorageNames.Grains)] IPersistentState<EventLogState> stored,
    GrainServices services) : Grain, IEventLogGrain
{
    /// <summary>Events kept; older ones are dropped.</summary>
    public const int Capacity = 1000;

    private DurableState<EventLogState> Durable => field ??= new(stored, services.Writes, this);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(() => Durable.TryWriteAsync(), new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { Interleave = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Durable.TryWriteAsync();

    public Task Record(GrainEvent entry)
    {
        var events = Durable.State.Events;
        events.Add(new EventRecord { UnixMs = entry.At.ToUnixTimeMilliseconds(), Silo = entry.Silo, Kind = entry.Kind, Grain = entry.Grain, Detail = entry.Detail });
        if (events.Count > Capacity)
        {
            events.RemoveAt(0);
        }

        Durable.Changed();
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<GrainEvent>> List(int limit)
    {
        IReadOnlyList<GrainEvent> list = Durable.State.Events.Reverse().Take(Math.Clamp(limit, 0, Capacity))
            .Select(e => new GrainEvent(DateTimeOffset.FromUnixTimeMilliseconds(e.UnixMs), e.Silo, e.Kind, e.Grain, e.Detail)).ToList();
        return Task.FromResult(list);
    }
}
