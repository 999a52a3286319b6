namespace Klais.LoadGen;

/// <summary>
/// A token bucket on a clock: tokens accrue at <c>rate</c> per second up to <c>burst</c>; sending takes tokens.
/// Credit is computed from the start time every call (no drift from summing small steps); an idle spell
/// never earns more than one burst. Rate 0 means no limit.
/// </summary>
internal sealed class PacingSchedule
{
    private readonly double _rate;
    private readonly int _burst;
    private readonly TimeProvider _time;
    private readonly long _start;
    private long _consumed;

    public PacingSchedule(double ratePerSecond, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentNullException.ThrowIfNull(time);
        _rate = ratePerSecond;
        _burst = burst;
        _time = time;
        _start = time.GetTimestamp();
    }

    /// <summary>Takes up to <paramref name="wanted"/> tokens that are available now; returns how many.</summary>
    public int Take(int wanted)
    {
        if (_rate == 0)
        {
            return wanted;
        }

        long granted = Granted();
        long available = granted - _consumed;
        if (available > _burst)
        {
            _consumed = granted - _burst;
            available = _burst;
        }

        int taken = (int)Math.Min(wanted, available);
        _consumed += taken;
        return taken;
    }

    /// <summary>Time until the next token accrues (zero when one is available or there is no limit).</summary>
    public TimeSpan UntilNextToken()
    {
        if (_rate == 0 || Granted() > _consumed)
        {
            return TimeSpan.Zero;
        }

        double due = (_consumed - _burst + 1) / _rate;
        double elapsed = _time.GetElapsedTime(_start).TotalSeconds;
        return TimeSpan.FromSeconds(Math.Max(0, due - elapsed));
    }

    private long Granted() => _burst + (long)(_time.GetElapsedTime(_start).TotalSeconds * _rate);
}
