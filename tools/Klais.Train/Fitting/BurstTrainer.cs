using Klais.Learning.Burst;
using Klais.Train.Traces;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Klais.Train.Fitting;

/// <summary>Tree-ensemble size: small enough for a model of tens of kilobytes and a microsecond prediction.</summary>
internal sealed record TrainerOptions
{
    public int Trees { get; init; } = 60;

    public int Leaves { get; init; } = 12;

    public int MinimumRowsPerLeaf { get; init; } = 50;

    public double LearningRate { get; init; } = 0.15;

    public int Seed { get; init; } = 1;
}

/// <summary>
/// A fitted model: ML.NET's transformer, the probability it gives each training row (for the ONNX check), and each
/// feature's share of the ensemble's split gain, in <see cref="BurstFeatures.Names"/> order.
/// </summary>
internal sealed record FittedModel(MLContext Context, ITransformer Model, float[][] Features, float[] Probabilities, int Positives, double[] Gain);

/// <summary>
/// Fits FastTree's binary classifier (gradient-boosted trees with a Platt calibrator) on the feature rows of labelled
/// traces and writes it as ONNX. The ONNX graph's input is <see cref="BurstFeatures.InputName"/>, its probability
/// output <see cref="BurstModel.ProbabilityOutput"/>.
/// </summary>
internal static class BurstTrainer
{
    public static FittedModel Fit(IReadOnlyList<FleetTrace> traces, TrainerOptions options)
    {
        var rows = new List<TrainingRow>();
        foreach (FleetTrace trace in traces)
        {
            foreach (int t in trace.UsableSeconds())
            {
                var features = new float[BurstFeatures.Count];
                trace.WriteFeatures(t, features);
                rows.Add(new TrainingRow { Features = features, Label = trace.Labels[t] == 1 });
            }
        }

        int positives = rows.Count(r => r.Label);
        if (positives == 0 || positives == rows.Count)
        {
            throw new InvalidDataException($"The traces give {rows.Count} rows, {positives} of them bursts: a classifier needs both classes.");
        }

        var ml = new MLContext(options.Seed);
        IDataView data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
        {
            LabelColumnName = nameof(TrainingRow.Label),
            FeatureColumnName = BurstFeatures.InputName,
            NumberOfTrees = options.Trees,
            NumberOfLeaves = options.Leaves,
            MinimumExampleCountPerLeaf = options.MinimumRowsPerLeaf,
            LearningRate = options.LearningRate,
            // One thread: deterministic, and the build machine's two cores are shared.
            NumberOfThreads = 1,
        });
        var model = trainer.Fit(data);
        float[] probabilities = [.. model.Transform(data).GetColumn<float>("Probability")];
        VBuffer<float> weights = default;
        model.Model.SubModel.GetFeatureWeights(ref weights);
        float[] dense = weights.DenseValues().ToArray();
        double total = Math.Max(dense.Sum(), float.Epsilon);
        return new FittedModel(ml, model, [.. rows.Select(r => r.Features)], probabilities, positives, [.. dense.Select(w => w / total)]);
    }

    /// <summary>
    /// Writes the model as ONNX. The schema handed to the converter has the feature column only: with the label in
    /// it, the graph would demand a label input too. Only the probability is kept as an output.
    /// </summary>
    public static void WriteOnnx(FittedModel fitted, Stream stream)
    {
        IDataView featuresOnly = fitted.Context.Data.LoadFromEnumerable(fitted.Features.Take(1).Select(f => new FeatureRow { Features = f }));
        fitted.Context.Model.ConvertToOnnx(fitted.Model, featuresOnly, stream, "Probability");
    }

    /// <summary>The largest |ML.NET - ONNX Runtime| probability over the training rows.</summary>
    public static double OnnxDifference(FittedModel fitted, BurstModel onnx)
    {
        double worst = 0;
        for (int i = 0; i < fitted.Features.Length; i++)
        {
            if (!onnx.TryPredict(fitted.Features[i], out float p))
            {
                throw new InvalidOperationException(onnx.LastError);
            }

            worst = Math.Max(worst, Math.Abs(p - fitted.Probabilities[i]));
        }

        return worst;
    }

    internal sealed class TrainingRow
    {
        [ColumnName(BurstFeatures.InputName)]
        [VectorType(BurstFeatures.Count)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    internal sealed class FeatureRow
    {
        [ColumnName(BurstFeatures.InputName)]
        [VectorType(BurstFeatures.Count)]
        public float[] Features { get; set; } = [];
    }
}
