namespace Klais.Grains.Storage;

/// <summary>
/// Whether grain state reaches its store: the last success and the last failure of a write, for <c>/health</c>.
/// Grains report every write; a failure newer than the last success means writes are failing now. While they are,
/// it is also a circuit breaker: calls on the ingestion path never wait for the store (their changes stay marked), and
/// of the background writes (flushes, index timers) one per <see cref="ProbeInterval"/> goes to the store to find out
/// whether it is back. A store that is away then costs a grain call nothing instead of a client timeout, and a grain
/// that reports often never falls behind its callers.
/// </summary>
public sealed class StateWriteHealth(TimeProvider time)
{
    /// <summary>How often, while writes fail, one is let through to find out whether the store is back.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(500);

    private long _nextProbeUnixMs;
    private long _conflicts;
    private long _succeeded;
    private long _failed;
    private long _lastSuccessUnixMs;
    private long _lastFailureUnixMs;
    private string? _lastError;

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Failed => Interlocked.Read(ref _failed);

    public string? LastError => Volatile.Read(ref _lastError);

    public DateTimeOffset? LastFailure => Interlocked.Read(ref _lastFailureUnixMs) is > 0 and long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>How long a failure with no success after it keeps writes counted as failing (then writes are tried again).</summary>
    public static readonly TimeSpan FailingFor = TimeSpan.FromSeconds(10);

    /// <summary>Writes refused for a stale ETag: a grain-level conflict (the grain reloads), not a store failure.</summary>
    public long Conflicts => Interlocked.Read(ref _conflicts);

    /// <summary>True while the newest write outcome is a failure of the store, for at most <see cref="FailingFor"/>.</summary>
    public bool Failing
    {
        get
        {
            long failure = Interlocked.Read(ref _lastFailureUnixMs);
            return failure > Interlocked.Read(ref _lastSuccessUnixMs)
                && time.GetUtcNow().ToUnixTimeMilliseconds() - failure < FailingFor.TotalMilliseconds;
        }
    }

    /// <summary>True unless writes are failing; then true for one background caller (<paramref name="probe"/>) per <see cref="ProbeInterval"/>.</summary>
    public bool MayWrite(bool probe)
    {
        if (!Failing)
        {
            return true;
        }

        if (!probe)
        {
            return false;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        long next = Interlocked.Read(ref _nextProbeUnixMs);
        return now >= next && Interlocked.CompareExchange(ref _nextProbeUnixMs, now + (long)ProbeInterval.TotalMilliseconds, next) == next;
    }

    public void Success()
    {
        Interlocked.Increment(ref _succeeded);
        Interlocked.Exchange(ref _lastSuccessUnixMs, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    public void Conflict() => Interlocked.Increment(ref _conflicts);

    public void Failure(Exception error)
    {
        Interlocked.Increment(ref _failed);
        Volatile.Write(ref _lastError, error.GetType().Name + ": " + error.Message);
        Interlocked.Exchange(ref _lastFailureUnixMs, Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds(), Interlocked.Read(ref _lastSuccessUnixMs) + 1));
    }
}
