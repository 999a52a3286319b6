using Orleans.Storage;

namespace Klais.Grains.Storage;

/// <summary>
/// A grain's stored state with the flush protocol ingestion relies on: changes are marked, written at the end of the
/// turn, and when a write fails they stay marked, so the next call or <c>Flush</c> writes them. A failed write never
/// loses what the grain already holds in memory; the offsets of the reports behind it stay uncommitted meanwhile.
/// A write refused for a stale ETag (the store holds another version: a second activation wrote, or the store lost
/// writes in a crash) is never retried over it: the <paramref name="owner"/> grain is deactivated, and its next
/// activation starts from what the store holds, and the reports not yet committed are applied to that again.
/// </summary>
internal sealed class DurableState<T>(IPersistentState<T> stored, StateWriteHealth health, IGrainBase owner)
    where T : class, new()
{
    private bool _unsaved;

    public T State => stored.State;

    public bool Unsaved => _unsaved;

    public void Changed() => _unsaved = true;

    /// <summary>
    /// Writes when something is unwritten; true when nothing is left unwritten. A caller on the ingestion path passes
    /// <paramref name="probe"/> false and does not wait while the store is failing; flushes and timers pass true.
    /// </summary>
    public async Task<bool> TryWriteAsync(bool probe = true)
    {
        if (!_unsaved)
        {
            return true;
        }

        if (!health.MayWrite(probe))
        {
            return false;
        }

        try
        {
            await stored.WriteStateAsync();
            _unsaved = false;
            health.Success();
            return true;
        }
        catch (InconsistentStateException)
        {
            health.Conflict();
            owner.DeactivateOnIdle();
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            health.Failure(ex);
            return false;
        }
    }
}
