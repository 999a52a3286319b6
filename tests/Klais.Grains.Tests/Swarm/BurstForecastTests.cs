using Klais.Contracts.Proto;
using Klais.Grains.Swarm;
using Klais.Testing;

namespace Klais.Grains.Tests.Swarm;

public sealed class BurstForecastTests
{
    private static readonly ControllerOptions Options = new() { HoltAlpha = 0.5, HoltBeta = 0.3, ForecastSteps = 5, BurstGrowthMidpoint = 0.5, BurstGrowthSpread = 0.15 };

    [Fact]
    public void Holt_follows_level_and_trend_by_the_formula()
    {
        (double level, double trend) = BurstForecast.Holt(0, 0, 1000, first: true, Options);
        Assert.Equal((1000.0, 0.0), (level, trend));
        // level = 0.5*1200 + 0.5*(1000 + 0) = 1100; trend = 0.3*(1100-1000) + 0.7*0 = 30
        (level, trend) = BurstForecast.Holt(level, trend, 1200, first: false, Options);
        Assert.Equal(1100, level, 12);
        Assert.Equal(30, trend, 12);
        // level = 0.5*1500 + 0.5*(1100 + 30) = 1315; trend = 0.3*215 + 0.7*30 = 85.5
        (level, trend) = BurstForecast.Holt(level, trend, 1500, first: false, Options);
        Assert.Equal(1315, level, 12);
        Assert.Equal(85.5, trend, 12);
    }

    [Theory]
    [InlineData(1000, 0, 0.0344)]      // flat: growth 0 -> 1/(1+e^(0.5/0.15))
    [InlineData(1000, 100, 0.5)]       // 5 steps * 100 = 50% growth: the midpoint
    [InlineData(1000, 160, 0.8808)]    // 80% growth
    [InlineData(0.5, 0, 0.0344)]       // level below 1 counts as 1
    public void Probability_is_a_logistic_of_forecast_growth(double level, double trend, double expected) =>
        Assert.Equal(expected, BurstForecast.Probability(level, trend, Options), 4);

    [Theory]
    [InlineData(0.0, 0, 1.0, 1, 0, false)]
    [InlineData(0.19, 0, 1.0, 1, 0, false)]
    [InlineData(0.2, 1, 1.0, 1, 20, false)]
    [InlineData(0.49, 1, 1.0, 1, 20, false)]
    [InlineData(0.5, 2, 0.75, 1, 20, false)]
    [InlineData(0.79, 2, 0.75, 1, 20, false)]
    [InlineData(0.8, 3, 0.5, 2, 50, true)]
    [InlineData(1.0, 3, 0.5, 2, 50, true)]
    public void Burst_table_maps_probability_to_response(double p, int level, double rate, double queue, int linger, bool alert) =>
        Assert.Equal(new BurstResponse(level, rate, queue, linger, alert), BurstResponse.For(p));

    [Fact]
    public void Swarm_controller_steps_each_interval_runs_pid_per_edge_and_cuts_rates_on_a_burst()
    {
        var clock = new ManualTimeProvider();
        var context = new FakeDecisionContext(clock) { Controller = Options with { Interval = TimeSpan.FromSeconds(1) } };
        var swarm = new SwarmController(new SwarmState());
        NodeSnapshot Edge() => new()
        {
            NodeId = "edge-1", OwnerSilo = "s", Health = "ok", KafkaLag = 5000, Cpu = 0.5, BaseRate = 10_000, LastReport = clock.GetUtcNow(),
        };

        bool Step(double rate)
        {
            swarm.Contribute(new SiloAggregate { SiloId = "silo-a", AtUnixMs = clock.GetUtcNow().ToUnixTimeMilliseconds(), PacketsPerSecond = rate, ActiveDevices = 10 });
            return swarm.Step([Edge()], blockedDevices: 1, anomalousDevices: 2, context);
        }

        Assert.True(Step(1000));
        Assert.False(Step(1000)); // same instant: not a new interval
        Assert.Equal((1000.0, 10, 1, 2), (swarm.View!.PacketsPerSecond, swarm.View.ActiveDevices, swarm.View.BlockedDevices, swarm.View.AnomalousDevices));
        Assert.Equal(0, swarm.State.BurstLevel);
        (string target, string key, ControlUpdate rate) = Assert.Single(context.Control);
        Assert.Equal(("edge-1", "edge-1/rate"), (target, key));
        Assert.Equal(10_000 * 1.246, rate.GlobalRate.RatePerSecond, 6); // PID output 0.246 (see PidControllerTests)

        // The fleet rate triples each second: the trend makes a burst likely, rates are cut and edges are told.
        foreach (double r in new[] { 3000.0, 9000, 27000 })
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.True(Step(r));
        }

        Assert.Equal(3, swarm.State.BurstLevel);
        Assert.True(swarm.State.BurstProbability >= 0.8);
        ControlUpdate burst = context.Control.Last(c => c.Key == ControlKey.Burst).Update;
        Assert.Equal(3, burst.Burst.Level);
        RateLimit last = context.Control.Last(c => c.Key == "edge-1/rate").Update.GlobalRate;
        Assert.Equal(2, last.QueueScale);
        Assert.Equal(10_000 * (1 + last.PidOutput) * 0.5, last.RatePerSecond, 6);
        Assert.Contains(context.Events, e => e.Kind == "alert");
    }
}
