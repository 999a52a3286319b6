namespace Klais.Grains.Storage;

/// <summary>
/// Whether grain state reaches its store: the last success and the last failure of a write, for <c>/health</c>.
/// Grains report every write; a failure newer than the last success means writes are failing now.
/// </summary>
public sealed class StateWriteHealth(TimeProvider time)
{
    private long _succeeded;
    private long _failed;
    private long _lastSuccessUnixMs;
    private long _lastFailureUnixMs;
    private string? _lastError;

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public long Failed => Interlocked.Read(ref _failed);

    public string? LastError => Volatile.Read(ref _lastError);

    public DateTimeOffset? LastFailure => Interlocked.Read(ref _lastFailureUnixMs) is > 0 and long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>True while the newest write outcome is a failure.</summary>
    public bool Failing => Interlocked.Read(ref _lastFailureUnixMs) > Interlocked.Read(ref _lastSuccessUnixMs);

    public void Success()
    {
        Interlocked.Increment(ref _succeeded);
        Interlocked.Exchange(ref _lastSuccessUnixMs, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    public void Failure(Exception error)
    {
        Interlocked.Increment(ref _failed);
        Volatile.Write(ref _lastError, error.GetType().Name + ": " + error.Message);
        Interlocked.Exchange(ref _lastFailureUnixMs, Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds(), Interlocked.Read(ref _lastSuccessUnixMs) + 1));
    }
}
