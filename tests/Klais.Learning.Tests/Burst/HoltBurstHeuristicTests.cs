using Klais.Learning.Burst;

namespace Klais.Learning.Tests.Burst;

[Trait("Category", "Unit")]
public sealed class HoltBurstHeuristicTests
{
    [Fact]
    public void Defaults_are_the_swarm_grains_constants()
    {
        var h = new HoltBurstHeuristic();
        Assert.Equal((0.5, 0.3, 5, 0.5, 0.15), (h.Alpha, h.Beta, h.Steps, h.Midpoint, h.Spread));
    }

    [Fact]
    public void Update_follows_holt_and_the_logistic_step_by_step()
    {
        var h = new HoltBurstHeuristic();
        double level = 0, trend = 0;
        double[] rates = [100, 100, 150, 240, 400, 380, 120];
        for (int i = 0; i < rates.Length; i++)
        {
            double p = h.Update(rates[i]);
            if (i == 0)
            {
                (level, trend) = (rates[0], 0);
            }
            else
            {
                double next = 0.5 * rates[i] + 0.5 * (level + trend);
                trend = 0.3 * (next - level) + 0.7 * trend;
                level = next;
            }

            double growth = 5 * trend / Math.Max(level, 1);
            Assert.Equal(1 / (1 + Math.Exp(-(growth - 0.5) / 0.15)), p, 12);
            Assert.Equal(level, h.Level, 12);
            Assert.Equal(trend, h.Trend, 12);
        }
    }

    [Fact]
    public void A_flat_rate_is_a_low_probability_and_growth_of_half_the_level_is_one_half()
    {
        var h = new HoltBurstHeuristic();
        Assert.Equal(1 / (1 + Math.Exp(0.5 / 0.15)), h.Update(100), 12);
        Assert.Equal(0.5, h.Probability(level: 100, trend: 10), 12);
        Assert.Equal(h.Probability(0.5, 0.1), h.Probability(1, 0.1), 12); // the level is floored at 1
    }

    [Fact]
    public void Resumed_from_a_stored_level_and_trend_it_continues_as_if_it_had_never_stopped()
    {
        var running = new HoltBurstHeuristic();
        foreach (double rate in new double[] { 100, 130, 170 })
        {
            running.Update(rate);
        }

        var resumed = new HoltBurstHeuristic();
        resumed.Resume(running.Level, running.Trend);
        Assert.True(resumed.Started);
        Assert.Equal(running.Update(260), resumed.Update(260), 12);
        Assert.Equal((running.Level, running.Trend), (resumed.Level, resumed.Trend));
    }
}
