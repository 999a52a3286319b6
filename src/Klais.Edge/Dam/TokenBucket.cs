namespace Klais.Edge.Dam;

/// <summary>
/// GCRA token bucket: one 64-bit theoretical arrival time (TAT) in <see cref="TimeProvider"/> timestamp
/// ticks, advanced by one emission interval per token with a single CompareExchange loop. The bucket is
/// full when TAT ≤ now; it is empty when TAT − now exceeds the tolerance (burst × interval) minus one
/// interval. No lock anywhere.
/// </summary>
/// <remarks>
/// Accepted races (as in cilium's bpf/lib/ratelimit.h): <see cref="TryTake"/> reads the settings once
/// before its CAS loop, so an offer racing <see cref="Reconfigure"/> may be charged at the old interval
/// against a TAT already rescaled to the new one: a few tokens too many or too few at the instant of a
/// reconfiguration, never a lasting drift. A caller's timestamp older than another thread's is harmless:
/// an older "now" sees fewer tokens (it cannot move TAT backwards, TAT only grows through max(TAT, now)).
/// </remarks>
internal sealed class TokenBucket
{
    private readonly long _frequency;
    private readonly object _reconfigureGate = new();
    private Settings _settings;
    private long _tat;

    public TokenBucket(double rate, long burst, TimeProvider time)
    {
        _frequency = time.TimestampFrequency;
        _settings = new Settings(rate, burst, _frequency);
        _tat = time.GetTimestamp();
    }

    public double Rate => Volatile.Read(ref _settings).Rate;

    public long Burst => Volatile.Read(ref _settings).Burst;

    /// <summary>Takes up to <paramref name="want"/> tokens at <paramref name="now"/>; returns how many it took.</summary>
    public long TryTake(long now, long want)
    {
        Settings s = Volatile.Read(ref _settings);
        while (true)
        {
            long tat = Volatile.Read(ref _tat);
            long start = Math.Max(tat, now);
            long available = (s.Tolerance - (start - now)) / s.Interval;
            if (available <= 0)
            {
                return 0;
            }

            long take = Math.Min(available, want);
            if (Interlocked.CompareExchange(ref _tat, start + (take * s.Interval), tat) == tat)
            {
                return take;
            }
        }
    }

    /// <summary>Gives back tokens taken but not used. Refunds past a full bucket are lost, as they must be.</summary>
    public void Refund(long tokens) => Interlocked.Add(ref _tat, -tokens * Volatile.Read(ref _settings).Interval);

    /// <summary>Whole tokens available at <paramref name="now"/>, 0 to burst.</summary>
    public long Tokens(long now)
    {
        Settings s = Volatile.Read(ref _settings);
        long start = Math.Max(Volatile.Read(ref _tat), now);
        return Math.Clamp((s.Tolerance - (start - now)) / s.Interval, 0, s.Burst);
    }

    /// <summary>Time until the next whole token is available; zero when one is.</summary>
    public TimeSpan UntilNextToken(long now)
    {
        Settings s = Volatile.Read(ref _settings);
        long wait = Math.Max(Volatile.Read(ref _tat), now) + s.Interval - s.Tolerance - now;
        return wait <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)wait / _frequency);
    }

    /// <summary>
    /// Swaps rate and burst. The tokens available now are kept (fractions included), capped at the new
    /// burst, so a lowered burst never leaves more than the new burst and a new rate refills from there.
    /// </summary>
    public void Reconfigure(double rate, long burst, long now)
    {
        var next = new Settings(rate, burst, _frequency);
        lock (_reconfigureGate)
        {
            Settings previous = Volatile.Read(ref _settings);
            Volatile.Write(ref _settings, next);
            while (true)
            {
                long tat = Volatile.Read(ref _tat);
                double tokens = (double)(previous.Tolerance - (Math.Max(tat, now) - now)) / previous.Interval;
                tokens = Math.Clamp(tokens, 0, next.Burst);

                // Round the debt up: a rescale never grants a fraction of a token.
                long newTat = now + (long)Math.Ceiling((next.Burst - tokens) * next.Interval);
                if (Interlocked.CompareExchange(ref _tat, newTat, tat) == tat)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Immutable, swapped as a whole so a reader never sees a new rate with an old burst.</summary>
    private sealed class Settings
    {
        public Settings(double rate, long burst, long frequency)
        {
            Rate = rate;
            Burst = burst;

            // Rounded up to whole ticks (never faster than configured); at least one tick, hence the
            // MaxRate limit. At Stopwatch's 1e9 Hz the rounding costs < 1e-9 × rate per second.
            Interval = Math.Max(1, (long)Math.Ceiling(frequency / rate));

            // Saturate: a tiny rate with a huge burst must not overflow TAT arithmetic (quarter of long range).
            Tolerance = burst > long.MaxValue / 4 / Interval ? long.MaxValue / 4 : burst * Interval;
        }

        public double Rate { get; }

        public long Burst { get; }

        public long Interval { get; }

        public long Tolerance { get; }
    }
}
