using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>
/// The listing of devices that are blocked, voted on or anomalous, written by device grains when their listing
/// changes. Stored at most once a second (a storm can change many entries at once); a change lost in a crash comes
/// back from the device grain's next turn, which re-sends its entry after reactivation.
/// </summary>
internal sealed class AnomalyIndexGrain(
    [PersistentState("anomaly-index", StorageNames.Grains)] IPersistentState<AnomalyIndexState> stored,
    GrainServices services) : Grain, IAnomalyIndexGrain
{
    /// <summary>Most entries listed; past it the least anomalous unblocked ones are dropped first.</summary>
    public const int MaxEntries = 10_000;

    private DurableState<AnomalyIndexState> Durable => field ??= new(stored, services.Writes, this);
    private readonly Dictionary<string, AnomalyEntry> _entries = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (AnomalyRecord r in Durable.State.Entries)
        {
            _entries[r.DeviceId] = new AnomalyEntry
            {
                DeviceId = r.DeviceId,
                OwnerSilo = r.OwnerSilo,
                AnomalyScore = r.AnomalyScore,
                Votes = r.Votes,
                Blocked = r.Blocked,
                Reason = r.Reason.Length == 0 ? null : r.Reason,
                ExpiresAt = r.ExpiresUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.ExpiresUnixMs),
                UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedUnixMs),
            };
        }

        this.RegisterGrainTimer(WriteChanges, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { Interleave = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await WriteChanges();

    public Task Update(AnomalyEntry entry)
    {
        _entries[entry.DeviceId] = entry;
        if (_entries.Count > MaxEntries)
        {
            AnomalyEntry least = _entries.Values.Where(e => !e.Blocked).MinBy(e => Math.Abs(e.AnomalyScore)) ?? _entries.Values.MinBy(e => e.UpdatedAt)!;
            _entries.Remove(least.DeviceId);
        }

        Durable.Changed();
        return Task.CompletedTask;
    }

    public Task Remove(string deviceId)
    {
        if (_entries.Remove(deviceId))
        {
            Durable.Changed();
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<AnomalyEntry>> List()
    {
        DateTimeOffset now = services.Time.GetUtcNow();
        IReadOnlyList<AnomalyEntry> list = _entries.Values
            .Select(e => e.Blocked && e.ExpiresAt <= now ? e with { Blocked = false } : e)
            .OrderByDescending(e => e.Blocked).ThenByDescending(e => Math.Abs(e.AnomalyScore)).ThenBy(e => e.DeviceId, StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(list);
    }

    private async Task WriteChanges()
    {
        if (!Durable.Unsaved)
        {
            return;
        }

        Durable.State.Entries.Clear();
        foreach (AnomalyEntry e in _entries.Values)
        {
            Durable.State.Entries.Add(new AnomalyRecord
            {
                DeviceId = e.DeviceId,
                OwnerSilo = e.OwnerSilo,
                AnomalyScore = e.AnomalyScore,
                Votes = e.Votes,
                Blocked = e.Blocked,
                Reason = e.Reason ?? "",
                ExpiresUnixMs = e.ExpiresAt?.ToUnixTimeMilliseconds() ?? 0,
                UpdatedUnixMs = e.UpdatedAt.ToUnixTimeMilliseconds(),
            });
        }

        await Durable.TryWriteAsync();
    }
}
