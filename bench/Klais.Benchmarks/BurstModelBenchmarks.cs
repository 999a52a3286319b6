using BenchmarkDotNet.Attributes;
using Klais.Learning.Burst;

namespace Klais.Benchmarks;

/// <summary>
/// The parts of a burst prediction, each alone: a second added to the fleet history and its feature row written, an
/// ONNX Runtime prediction with the shipped model, and, as the baseline, the Holt heuristic's update. The whole swarm
/// step with either is measured by <c>Klais.SiloBench inference</c> (docs/BENCHMARKS.md).
/// </summary>
[MemoryDiagnoser]
public class BurstModelBenchmarks
{
    private readonly float[] _row = new float[BurstFeatures.Count];
    private readonly FleetHistory _history = new();
    private readonly HoltBurstHeuristic _heuristic = new();
    private BurstModel? _model;
    private int _second;

    [GlobalSetup]
    public void Setup()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "models", "burst.onnx");
        if (!BurstModel.TryLoad(path, out _model, out string error))
        {
            throw new InvalidOperationException(error);
        }

        for (int i = 0; i < BurstFeatures.WindowSeconds; i++)
        {
            _history.Add(Sample(i));
        }

        _history.TryWriteFeatures(_row);
    }

    [GlobalCleanup]
    public void Cleanup() => _model?.Dispose();

    [Benchmark(Baseline = true, Description = "Holt heuristic update")]
    public double Heuristic() => _heuristic.Update(50_000 + 100 * (_second++ % 7));

    [Benchmark(Description = "feature row: add a second, write 16 floats")]
    public float Features()
    {
        _history.Add(Sample(_second++));
        _history.TryWriteFeatures(_row);
        return _row[1];
    }

    [Benchmark(Description = "ONNX Runtime prediction")]
    public float Predict()
    {
        _model!.TryPredict(_row, out float p);
        return p;
    }

    private static FleetSample Sample(int i) => new(1_700_000_000 + i, 50_000 + 100 * (i % 7), 20 + (i % 3), 40_000, 1000, 0.5);
}
