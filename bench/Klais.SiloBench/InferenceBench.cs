using System.Diagnostics;
using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Grains.Swarm;
using Klais.Grains.Turns;
using Klais.Learning.Burst;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.SiloBench;

/// <summary>
/// <c>inference [steps] [edges]</c>: what burst prediction costs a swarm tick. Two <see cref="SwarmController"/>s fed
/// the same fleet, one with the shipped ONNX model in force, one with the Holt heuristic in force (its model file does
/// not exist), each step a new second (so the model is asked at every step) with <c>edges</c> edges under PID control.
/// Five rounds, each timing <c>steps</c> heuristic steps and then <c>steps</c> model steps, single-threaded, after a
/// warm-up of a full minute of history and 2000 steps each. Prints µs and bytes allocated per step for both and
/// their difference: the model's cost per tick.
/// </summary>
internal static class InferenceBench
{
    public static void Run(int steps, int edges)
    {
        using var withModel = new Fleet(BurstModelOptions.ShippedModel, edges);
        using var withHeuristic = new Fleet(Path.Combine(AppContext.BaseDirectory, "no-such-model.onnx"), edges);
        for (int i = 0; i < BurstFeatures.WindowSeconds + 2000; i++)
        {
            withModel.Step();
            withHeuristic.Step();
        }

        if (withModel.Kind != BurstModelView.Onnx || withHeuristic.Kind != BurstModelView.Heuristic)
        {
            throw new InvalidOperationException($"in force: {withModel.Kind} and {withHeuristic.Kind}, expected onnx and heuristic");
        }

        var heuristicUs = new List<double>();
        var modelUs = new List<double>();
        for (int round = 1; round <= 5; round++)
        {
            (double hUs, double hBytes) = Measure(withHeuristic, steps);
            (double mUs, double mBytes) = Measure(withModel, steps);
            heuristicUs.Add(hUs);
            modelUs.Add(mUs);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"inference round={round} edges={edges} steps={steps} heuristic_us_per_step={hUs:F2} model_us_per_step={mUs:F2} heuristic_bytes_per_step={hBytes:F0} model_bytes_per_step={mBytes:F0}"));
        }

        double h = Median(heuristicUs), m = Median(modelUs);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"inference median edges={edges} heuristic_us_per_step={h:F2} model_us_per_step={m:F2} model_minus_heuristic_us={m - h:F2}"));
    }

    private static (double MicrosecondsPerStep, double BytesPerStep) Measure(Fleet fleet, int steps)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < steps; i++)
        {
            fleet.Step();
        }

        double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds / steps;
        return (us, (GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)steps);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>One swarm controller on a clock of its own, stepped a second at a time.</summary>
    private sealed class Fleet : IDisposable, IDecisionContext
    {
        private readonly ManualTimeProvider _clock = new();
        private readonly BurstModelService _model;
        private readonly SwarmController _swarm;
        private readonly NodeSnapshot[] _nodes;
        private int _tick;

        public Fleet(string modelPath, int edges)
        {
            // A model file looked at once a day: the bench measures steps, not reloads.
            _model = new BurstModelService(new BurstModelOptions { Path = modelPath, RecheckInterval = TimeSpan.FromDays(1) }, _clock,
                NullLogger<BurstModelService>.Instance);
            _swarm = new SwarmController(new SwarmState(), _model, Controller);
            // Reports dated far ahead never go stale: the snapshots are made once, not every step.
            DateTimeOffset ahead = _clock.GetUtcNow().AddYears(50);
            _nodes = Enumerable.Range(0, edges).Select(i => new NodeSnapshot
            {
                NodeId = "edge-" + i.ToString(CultureInfo.InvariantCulture), OwnerSilo = "bench", Health = "ok", KafkaLag = 1000 + i, Cpu = 0.5,
                BaseRate = 10_000, LastReport = ahead,
            }).ToArray();
        }

        public string Kind => _swarm.View?.Model?.Kind ?? "";

        public DateTimeOffset Now => _clock.GetUtcNow();

        public string SiloId => "bench";

        public ConsensusOptions Consensus { get; } = new();

        public ControllerOptions Controller { get; } = new();

        public void Step()
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            int t = _tick++;
            _swarm.Contribute(new SiloAggregate
            {
                SiloId = "bench", AtUnixMs = Now.ToUnixTimeMilliseconds(), PacketsPerSecond = 50_000 + 100 * (t % 7), ActiveDevices = 40_000,
                NewDevicesPerSecond = 20 + (t % 3),
            });
            _swarm.Step(_nodes, 0, 0, this);
        }

        public void EmitControl(string target, string key, ControlUpdate update)
        {
        }

        public void Record(string kind, string grain, string detail)
        {
        }

        public void Dispose() => _model.Dispose();
    }
}
