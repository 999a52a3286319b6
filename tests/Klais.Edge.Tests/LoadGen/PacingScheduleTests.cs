using Klais.LoadGen;
using Klais.Testing;

namespace Klais.Edge.Tests.LoadGen;

public sealed class PacingScheduleTests
{
    [Fact]
    public void Starts_with_one_burst_then_grants_the_rate()
    {
        var clock = new ManualTimeProvider();
        var schedule = new PacingSchedule(ratePerSecond: 1000, burst: 10, clock);

        Assert.Equal(10, schedule.Take(64));
        Assert.Equal(0, schedule.Take(64));
        clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(5, schedule.Take(64));
    }

    [Fact]
    public void Over_one_second_of_steady_taking_grants_rate_plus_one_burst()
    {
        var clock = new ManualTimeProvider();
        var schedule = new PacingSchedule(ratePerSecond: 1000, burst: 10, clock);
        long taken = schedule.Take(64);

        for (int ms = 0; ms < 1000; ms++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            taken += schedule.Take(64);
        }

        Assert.Equal(1010, taken);
    }

    [Fact]
    public void An_idle_spell_earns_no_more_than_one_burst()
    {
        var clock = new ManualTimeProvider();
        var schedule = new PacingSchedule(ratePerSecond: 1000, burst: 10, clock);
        schedule.Take(64);

        clock.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(10, schedule.Take(64));
        clock.Advance(TimeSpan.FromMilliseconds(3));
        Assert.Equal(3, schedule.Take(64));
    }

    [Fact]
    public void Says_how_long_until_the_next_token()
    {
        var clock = new ManualTimeProvider();
        var schedule = new PacingSchedule(ratePerSecond: 100, burst: 1, clock);
        schedule.Take(1);

        Assert.Equal(TimeSpan.FromMilliseconds(10), schedule.UntilNextToken());
        clock.Advance(TimeSpan.FromMilliseconds(4));
        Assert.Equal(TimeSpan.FromMilliseconds(6), schedule.UntilNextToken());
        clock.Advance(TimeSpan.FromMilliseconds(6));
        Assert.Equal(TimeSpan.Zero, schedule.UntilNextToken());
    }

    [Fact]
    public void Rate_zero_grants_everything()
    {
        var schedule = new PacingSchedule(ratePerSecond: 0, burst: 1, new ManualTimeProvider());

        Assert.Equal(1_000_000, schedule.Take(1_000_000));
    }
}
