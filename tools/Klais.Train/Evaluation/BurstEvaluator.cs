using Klais.Learning.Burst;
using Klais.Train.Traces;

namespace Klais.Train.Evaluation;

/// <summary>Scores predictors on labelled traces: the model through <see cref="BurstModel"/>, the silo's own code path, and the Holt heuristic.</summary>
internal static class BurstEvaluator
{
    /// <summary>
    /// Pools every usable second of every trace (<see cref="FleetTrace.UsableSeconds"/>) for AUC, precision and
    /// recall; lead times are per burst onset. <paramref name="predict"/> gives a probability per second of a trace.
    /// </summary>
    public static Scores Score(IReadOnlyList<FleetTrace> traces, Func<FleetTrace, double[]> predict)
    {
        var scores = new List<double>();
        var labels = new List<bool>();
        var leads = new List<int>();
        int bursts = 0;
        foreach (FleetTrace trace in traces)
        {
            double[] probabilities = predict(trace);
            foreach (int t in trace.UsableSeconds())
            {
                scores.Add(probabilities[t]);
                labels.Add(trace.Labels[t] == 1);
            }

            leads.AddRange(Metrics.Leads(probabilities, BurstLabels.Onsets(trace.Samples), BurstFeatures.WindowSeconds - 1, out int traceBursts));
            bursts += traceBursts;
        }

        double auc = Metrics.Auc(scores.ToArray(), labels.ToArray());
        (double precision, double recall) = Metrics.PrecisionRecall(scores.ToArray(), labels.ToArray());
        return new Scores(auc, precision, recall, leads.Count == 0 ? double.NaN : leads.Average(), leads.Count, bursts);
    }

    /// <summary>The model's probability for each second with a full feature window (NaN before).</summary>
    public static double[] ModelProbabilities(BurstModel model, FleetTrace trace)
    {
        var probabilities = new double[trace.Samples.Length];
        Array.Fill(probabilities, double.NaN);
        Span<float> features = stackalloc float[BurstFeatures.Count];
        for (int t = BurstFeatures.WindowSeconds - 1; t < trace.Samples.Length; t++)
        {
            trace.WriteFeatures(t, features);
            if (!model.TryPredict(features, out float p))
            {
                throw new InvalidOperationException($"{trace.Name}, second {t}: {model.LastError}");
            }

            probabilities[t] = p;
        }

        return probabilities;
    }

    /// <summary>The heuristic's probability for each second, fed every second of the trace from its start.</summary>
    public static double[] HeuristicProbabilities(FleetTrace trace)
    {
        var heuristic = new HoltBurstHeuristic();
        return [.. trace.Samples.Select(s => heuristic.Update(s.PacketsPerSecond))];
    }
}
