using Klais.Contracts.Proto;
using Klais.Grains.Swarm;
using Klais.Learning.Burst;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Grains.Tests.Swarm;

public sealed class SwarmControllerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("klais-swarm-").FullName;

    private static readonly ControllerOptions Options = new() { HoltAlpha = 0.5, HoltBeta = 0.3, ForecastSteps = 5, BurstGrowthMidpoint = 0.5, BurstGrowthSpread = 0.15 };

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
        using BurstModelService model = Service(Path.Combine(_dir, "absent.onnx"), clock);
        var swarm = new SwarmController(new SwarmState(), model, context.Controller);
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
        (string target, string key, ControlUpdate rate) = Assert.Single(context.Control, c => c.Key != ControlKey.Burst);
        Assert.Equal(("edge-1", "edge-1/rate"), (target, key));
        // With no model file the heuristic answers, and the first step tells the edges so (DEGRADED_ML there).
        BurstModelState first = Assert.Single(context.Control, c => c.Key == ControlKey.Burst).Update.Burst.Model;
        Assert.Equal(("heuristic", ""), (first.Kind, first.Version));
        Assert.StartsWith("Burst model " + Path.Combine(_dir, "absent.onnx") + ": no such file", first.Error, StringComparison.Ordinal);
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

    [Fact]
    public void The_model_answers_once_it_holds_a_minute_of_history_with_the_probability_onnx_runtime_gives_for_that_row()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var context = new FakeDecisionContext(clock) { Controller = Options with { Interval = TimeSpan.FromSeconds(1) } };
        using BurstModelService model = Service(BurstModelOptions.ShippedModel, clock);
        Assert.True(BurstModel.TryLoad(BurstModelOptions.ShippedModel, out BurstModel? reference, out string error), error);
        using BurstModel onnx = reference;
        var swarm = new SwarmController(new SwarmState(), model, context.Controller);
        var history = new FleetHistory();
        var heuristic = new HoltBurstHeuristic();
        float[] row = new float[BurstFeatures.Count];
        for (int i = 0; i < BurstFeatures.WindowSeconds + 5; i++)
        {
            // A steady fleet, then the reconnects and the rate of a storm in its last seconds.
            double rate = i < 60 ? 10_000 + 50 * Math.Sin(i) : 10_000 + 6000 * (i - 59);
            double reconnects = i < 58 ? 10 : 3000;
            long ms = clock.GetUtcNow().ToUnixTimeMilliseconds();
            swarm.Contribute(new SiloAggregate { SiloId = "s", AtUnixMs = ms, PacketsPerSecond = rate, ActiveDevices = 8000, NewDevicesPerSecond = reconnects });
            NodeSnapshot edge = new() { NodeId = "edge-1", OwnerSilo = "s", Health = "ok", KafkaLag = 100, Cpu = 0.4, BaseRate = 50_000, LastReport = clock.GetUtcNow() };
            Assert.True(swarm.Step([edge], 0, 0, context));
            history.Add(new FleetSample(ms / 1000, rate, reconnects, 8000, 100, 0.4));
            double expectedHeuristic = heuristic.Update(rate);
            BurstModelView used = swarm.View!.Model!;
            if (i < BurstFeatures.WindowSeconds - 1)
            {
                // Warming up: the heuristic, and no degradation.
                Assert.Equal(("heuristic", "sha256:7fe965235f29", null, BurstFeatures.WindowSeconds - 1 - i), (used.Kind, used.Version, used.Error, used.WarmUpSeconds));
                Assert.Equal(expectedHeuristic, swarm.State.BurstProbability, 12);
            }
            else
            {
                Assert.True(history.TryWriteFeatures(row));
                Assert.True(onnx.TryPredict(row, out float p), onnx.LastError);
                Assert.Equal(("onnx", "sha256:7fe965235f29", null), (used.Kind, used.Version, used.Error));
                Assert.Equal(p, swarm.State.BurstProbability, 6);
            }

            clock.Advance(TimeSpan.FromSeconds(1));
        }

        // Told to the edges twice: the heuristic while warming up (no error: not degraded), then the model.
        var advised = context.Control.Where(c => c.Key == ControlKey.Burst).Select(c => c.Update.Burst.Model).Distinct().ToList();
        Assert.Equal([("heuristic", ""), ("onnx", "")], advised.Select(m => (m.Kind, m.Error)).Take(2));
        Assert.True(swarm.State.BurstProbability > 0.5, $"the storm's precursors and rise give {swarm.State.BurstProbability}");
        Assert.Contains(context.Events, e => e.Kind == "model" && e.Detail.Contains("sha256:7fe965235f29 in force", StringComparison.Ordinal));
    }

    [Fact]
    public void A_corrupt_model_leaves_the_heuristic_in_force_until_a_good_file_replaces_it()
    {
        var clock = new ManualTimeProvider();
        var context = new FakeDecisionContext(clock) { Controller = Options with { Interval = TimeSpan.FromSeconds(1) } };
        string path = Path.Combine(_dir, "burst.onnx");
        File.WriteAllBytes(path, [0x08, 0x07, 0x12, 0xFF, 0x00, 0x42]);
        using BurstModelService model = Service(path, clock);
        Assert.Equal(("heuristic", null), (model.Status.Kind, model.Status.Version));
        Assert.StartsWith($"Burst model {path}: not a valid ONNX model", model.Status.Error, StringComparison.Ordinal);

        var swarm = new SwarmController(new SwarmState(), model, context.Controller);
        var heuristic = new HoltBurstHeuristic();
        void Run(int seconds)
        {
            for (int i = 0; i < seconds; i++)
            {
                double rate = 1000 * (1 + (i % 7));
                swarm.Contribute(new SiloAggregate { SiloId = "s", AtUnixMs = clock.GetUtcNow().ToUnixTimeMilliseconds(), PacketsPerSecond = rate, ActiveDevices = 100 });
                Assert.True(swarm.Step([], 0, 0, context));
                double expected = heuristic.Update(rate);
                if (swarm.View!.Model!.Kind == "heuristic")
                {
                    Assert.Equal(expected, swarm.State.BurstProbability, 12);
                }

                clock.Advance(TimeSpan.FromSeconds(1));
            }
        }

        Run(BurstFeatures.WindowSeconds + 3);
        Assert.True(swarm.View!.Model!.Degraded);
        BurstModelState advised = context.Control.Last(c => c.Key == ControlKey.Burst).Update.Burst.Model;
        Assert.Equal(("heuristic", model.Status.Error), (advised.Kind, advised.Error));
        Assert.Contains(context.Events, e => e.Kind == "degraded");

        // An operator puts a good model in place (a new file renamed over the old one); the next look at the file loads it.
        File.Copy(BurstModelOptions.ShippedModel, path + ".new");
        File.Move(path + ".new", path, overwrite: true);
        Run(1);
        Assert.Equal("heuristic", swarm.View!.Model!.Kind); // not looked at yet: every 5 s
        Run(5);
        Assert.Equal(("onnx", "sha256:7fe965235f29", null), (swarm.View!.Model!.Kind, swarm.View.Model.Version, swarm.View.Model.Error));
        Assert.Equal(("onnx", ""), (context.Control.Last(c => c.Key == ControlKey.Burst).Update.Burst.Model.Kind, context.Control.Last(c => c.Key == ControlKey.Burst).Update.Burst.Model.Error));
        Assert.Equal(2, model.Loads);

        // And a file that goes away puts the heuristic back, with the reason.
        File.Delete(path);
        Run(5);
        Assert.StartsWith($"Burst model {path}: no such file", swarm.View!.Model!.Error, StringComparison.Ordinal);
        Assert.Equal("heuristic", context.Control.Last(c => c.Key == ControlKey.Burst).Update.Burst.Model.Kind);
    }

    [Fact]
    public void A_row_the_model_refuses_is_answered_by_the_heuristic_and_reported_until_a_prediction_succeeds()
    {
        var clock = new ManualTimeProvider();
        using BurstModelService model = Service(BurstModelOptions.ShippedModel, clock);
        float[] row = new float[BurstFeatures.Count];
        row[3] = float.NaN;
        Assert.False(model.TryPredict(row, out _));
        Assert.Equal(("heuristic", "sha256:7fe965235f29", "Feature slope_10s is NaN."), (model.Status.Kind, model.Status.Version, model.Status.Error));
        Assert.Equal(1, model.FailedPredictions);
        row[3] = 0;
        Assert.True(model.TryPredict(row, out float p));
        Assert.InRange(p, 0, 1);
        Assert.Equal(("onnx", null), (model.Status.Kind, model.Status.Error));
    }

    [Fact]
    public void Trends_fit_the_fleet_and_each_fresh_edge_over_the_window_and_forecast_the_horizon()
    {
        var clock = new ManualTimeProvider();
        var context = new FakeDecisionContext(clock) { Controller = Options with { Interval = TimeSpan.FromSeconds(1) } };
        using BurstModelService model = Service(Path.Combine(_dir, "absent.onnx"), clock);
        var swarm = new SwarmController(new SwarmState(), model, context.Controller);
        DateTimeOffset start = clock.GetUtcNow();
        for (int i = 0; i < 120; i++)
        {
            // The fleet grows by 10 packets/s every second for the last minute (flat before); edge-a alternates ±5 around 500;
            // edge-b stopped reporting at the start.
            double rate = i < 60 ? 2000 : 2000 + (10 * (i - 59));
            swarm.Contribute(new SiloAggregate { SiloId = "s", AtUnixMs = clock.GetUtcNow().ToUnixTimeMilliseconds(), PacketsPerSecond = rate });
            NodeSnapshot a = new() { NodeId = "edge-a", OwnerSilo = "s", Health = "ok", ReceivedPerSecond = 500 + (i % 2 == 0 ? 5 : -5), BaseRate = 1000, LastReport = clock.GetUtcNow() };
            NodeSnapshot b = new() { NodeId = "edge-b", OwnerSilo = "s", Health = "ok", ReceivedPerSecond = 9999, BaseRate = 1000, LastReport = start };
            Assert.True(swarm.Step([a, b], 0, 0, context));
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        TrendsSnapshot trends = swarm.Trends(clock.GetUtcNow().AddSeconds(-1), "s", windowSeconds: 60, horizonSeconds: 300);
        TrendView fleet = trends.Fleet!;
        Assert.Equal((60, 10.0, 2600.0, 1.0), (fleet.Points, Math.Round(fleet.SlopePerSecond, 9), fleet.Current, Math.Round(fleet.RSquared, 9)));
        Assert.Equal(2600, fleet.Fitted, 6);
        Assert.Equal(2600 + 3000, fleet.Forecast, 6);

        // edge-b's last report is older than NodeStaleAfter (10 s): its rate was recorded for its first seconds only, outside the window.
        TrendView edge = Assert.Single(trends.Nodes);
        Assert.Equal(("edge-a", 60), (edge.Series, edge.Points));
        Assert.InRange(edge.SlopePerSecond, -0.02, 0.02); // -150 / 17995: the alternation ends on its low side
        Assert.InRange(edge.Forecast, 495, 505);
        Assert.True(edge.RSquared < 0.01 && Math.Abs(edge.ResidualStd - 5) < 0.01, $"r² {edge.RSquared}, residual {edge.ResidualStd}");

        // A longer window takes in the flat minute: a weaker slope and a worse fit.
        TrendView longer = swarm.Trends(clock.GetUtcNow().AddSeconds(-1), "s", 120, 300).Fleet!;
        Assert.Equal(120, longer.Points);
        Assert.InRange(longer.SlopePerSecond, 1, 9.99);
        Assert.InRange(longer.RSquared, 0.75, 0.85); // 0.804 for this hockey stick (slope 5.06)
    }

    [Fact]
    public void A_policy_pins_a_model_of_the_catalogue_by_version_and_an_absent_version_means_the_heuristic_until_its_file_appears()
    {
        var clock = new ManualTimeProvider();
        string configured = Path.Combine(_dir, "burst.onnx");
        File.WriteAllBytes(configured, [0x08, 0x07, 0x12, 0xFF, 0x00, 0x42]); // the configured file is corrupt
        using BurstModelService model = Service(configured, clock);
        Assert.Equal("heuristic", model.Status.Kind);
        string shipped = BurstModel.VersionOf(File.ReadAllBytes(BurstModelOptions.ShippedModel));
        Assert.Equal("sha256:7fe965235f29", shipped);

        // Pinned before any file of the catalogue has it: the heuristic, saying which version and where.
        Assert.True(model.Pin(shipped));
        Assert.Equal(("heuristic", $"The fleet policy pins burst model {shipped}, and no .onnx file in {_dir} has that version."),
            (model.Status.Kind, model.Status.Error));
        Assert.False(model.Refresh()); // still absent: nothing to do

        string copy = Path.Combine(_dir, "burst-2026-11.onnx");
        File.Copy(BurstModelOptions.ShippedModel, copy);
        Assert.Equal(new Dictionary<string, string> { [shipped] = copy, [BurstModel.VersionOf(File.ReadAllBytes(configured))] = configured },
            model.Catalogue().ToDictionary());
        Assert.True(model.Refresh());
        Assert.Equal(("onnx", shipped, null, copy), (model.Status.Kind, model.Status.Version, model.Status.Error, model.Status.Path));
        Assert.False(model.Refresh());
        Assert.True(model.TryPredict(new float[BurstFeatures.Count], out _));

        Assert.True(model.Pin(null)); // the policy no longer pins: the configured (corrupt) file again
        Assert.Equal(("heuristic", configured), (model.Status.Kind, model.Status.Path));
        Assert.StartsWith($"Burst model {configured}: not a valid ONNX model", model.Status.Error, StringComparison.Ordinal);
        Assert.False(model.Pin(null));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static BurstModelService Service(string path, TimeProvider clock) =>
        new(new BurstModelOptions { Path = path }, clock, NullLogger<BurstModelService>.Instance);
}
