namespace Klais.Testing;

/// <summary>
/// A clock tests move by hand. Microsoft.Extensions.TimeProvider.Testing (FakeTimeProvider) does not
/// restore from our feed, so this is the small subset we need: a settable UTC time, a timestamp that
/// advances with it, and timers that fire when the clock passes their due time.
/// </summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now;
    private long _timestamp;

    public ManualTimeProvider(DateTimeOffset? start = null) => _now = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long GetTimestamp()
    {
        lock (_gate)
        {
            return _timestamp;
        }
    }

    /// <summary>Timers waiting to fire.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    /// <summary>Time from now until the earliest pending timer fires (<see cref="TimeSpan.MaxValue"/> when none).</summary>
    public TimeSpan EarliestDue
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count == 0 ? TimeSpan.MaxValue : TimeSpan.FromTicks(_timers.Min(t => t.DueAt) - _timestamp);
            }
        }
    }

    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(by), by, "Time only moves forward.");
        }

        List<ManualTimer> due;
        lock (_gate)
        {
            _now += by;
            _timestamp += by.Ticks;
            due = _timers.Where(t => t.DueAt <= _timestamp).ToList();
        }

        foreach (ManualTimer timer in due)
        {
            timer.Fire(_timestamp);
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private long _period = -1;

        public long DueAt { get; private set; } = long.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                _period = period == Timeout.InfiniteTimeSpan ? -1 : period.Ticks;
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    DueAt = owner._timestamp + dueTime.Ticks;
                    owner._timers.Add(this);
                }
            }

            return true;
        }

        public void Fire(long now)
        {
            lock (owner._gate)
            {
                if (_period > 0)
                {
                    DueAt = now + _period;
                }
                else
                {
                    owner._timers.Remove(this);
                    DueAt = long.MaxValue;
                }
            }

            callback(state);
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
