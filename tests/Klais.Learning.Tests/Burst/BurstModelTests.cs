using System.Security.Cryptography;
using Klais.Learning.Burst;
using Klais.Train.Evaluation;
using Klais.Train.Fitting;
using Klais.Train.Simulation;
using Klais.Train.Traces;

namespace Klais.Learning.Tests.Burst;

[Trait("Category", "Unit")]
public sealed class BurstModelTests : IDisposable
{
    private static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "models", "burst.onnx");
    private readonly string _directory = Directory.CreateTempSubdirectory("klais-learning-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_shipped_model_loads_and_names_its_version_after_the_files_hash()
    {
        Assert.True(BurstModel.TryLoad(Shipped, out BurstModel? model, out string error), error);
        using (model)
        {
            string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Shipped)));
            Assert.Equal("sha256:" + hash[..12], model.Version);
            Assert.Equal(Shipped, model.Path);
            Assert.Equal("onnx", BurstModel.Kind);
        }
    }

    [Fact]
    public void The_shipped_model_gives_probabilities_and_ranks_unseen_bursts_above_the_heuristic()
    {
        // A seed neither training nor the documented evaluation used.
        var simulator = new FleetSimulator(new SimulatorOptions());
        FleetTrace[] traces = [.. Enumerable.Range(0, 3).Select(i => simulator.Simulate($"t{i}", 4242 + i, 1800).Trace)];
        Assert.True(BurstModel.TryLoad(Shipped, out BurstModel? model, out string error), error);
        using (model)
        {
            foreach (FleetTrace trace in traces)
            {
                Assert.All(BurstEvaluator.ModelProbabilities(model, trace).Skip(BurstFeatures.WindowSeconds - 1), p => Assert.InRange(p, 0, 1));
            }

            Scores learned = BurstEvaluator.Score(traces, t => BurstEvaluator.ModelProbabilities(model, t));
            Scores holt = BurstEvaluator.Score(traces, BurstEvaluator.HeuristicProbabilities);
            Assert.True(learned.Auc > holt.Auc, $"model AUC {learned.Auc}, heuristic {holt.Auc}");
        }
    }

    [Fact]
    public void Onnx_runtime_gives_mlnets_probabilities_to_1e_5()
    {
        var simulator = new FleetSimulator(new SimulatorOptions());
        FleetTrace[] traces = [.. Enumerable.Range(0, 2).Select(i => simulator.Simulate($"t{i}", 77 + i, 900).Trace)];
        FittedModel fitted = BurstTrainer.Fit(traces, new TrainerOptions { Trees = 10, Leaves = 8 });
        string path = Path.Combine(_directory, "small.onnx");
        using (FileStream stream = File.Create(path))
        {
            BurstTrainer.WriteOnnx(fitted, stream);
        }

        Assert.True(BurstModel.TryLoad(path, out BurstModel? model, out string error), error);
        using (model)
        {
            for (int i = 0; i < fitted.Features.Length; i += 97)
            {
                Assert.True(model.TryPredict(fitted.Features[i], out float p), model.LastError);
                Assert.Equal(fitted.Probabilities[i], p, 1e-5);
            }

            Assert.True(BurstTrainer.OnnxDifference(fitted, model) <= 1e-5);
        }
    }

    [Fact]
    public void A_prediction_allocates_nothing()
    {
        Assert.True(BurstModel.TryLoad(Shipped, out BurstModel? model, out string error), error);
        using (model)
        {
            var row = new float[BurstFeatures.Count];
            row[1] = 1;
            Assert.Equal(1000, PredictMany(model, row));

            long before = GC.GetAllocatedBytesForCurrentThread();
            int predicted = PredictMany(model, row);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(1000, predicted);
            Assert.Equal(0, allocated);
        }
    }

    // Fully optimised from the start: a loop in the test method that tiers up mid-run (on-stack replacement)
    // allocates once itself, which is not the code under test's allocation.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int PredictMany(BurstModel model, float[] row)
    {
        int predicted = 0;
        for (int i = 0; i < 1000; i++)
        {
            predicted += model.TryPredict(row, out _) ? 1 : 0;
        }

        return predicted;
    }

    [Fact]
    public void A_missing_file_is_an_error_naming_it()
    {
        string path = Path.Combine(_directory, "absent.onnx");
        Assert.False(BurstModel.TryLoad(path, out BurstModel? model, out string error));
        Assert.Null(model);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains("no such file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_file_is_an_error_naming_it()
    {
        string path = Path.Combine(_directory, "corrupt.onnx");
        byte[] shipped = File.ReadAllBytes(Shipped);
        File.WriteAllBytes(path, shipped[..(shipped.Length / 3)]);
        Assert.False(BurstModel.TryLoad(path, out BurstModel? model, out string error));
        Assert.Null(model);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains("not a valid ONNX model", error, StringComparison.Ordinal);

        File.WriteAllText(path, "not a model at all");
        Assert.False(BurstModel.TryLoad(path, out _, out error));
        Assert.Contains(path, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_of_the_wrong_length_or_with_nan_is_refused_and_the_model_still_works()
    {
        Assert.True(BurstModel.TryLoad(Shipped, out BurstModel? model, out string error), error);
        using (model)
        {
            Assert.False(model.TryPredict(new float[BurstFeatures.Count - 1], out _));
            Assert.Contains("16 floats", model.LastError, StringComparison.Ordinal);

            var row = new float[BurstFeatures.Count];
            row[3] = float.NaN;
            Assert.False(model.TryPredict(row, out _));
            Assert.Contains("slope_10s", model.LastError, StringComparison.Ordinal);

            row[3] = 0;
            Assert.True(model.TryPredict(row, out float p));
            Assert.InRange(p, 0, 1);
            Assert.Null(model.LastError);
        }
    }
}
