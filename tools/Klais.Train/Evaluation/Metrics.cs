using Klais.Train.Traces;

namespace Klais.Train.Evaluation;

/// <summary>The figures <c>klais-train evaluate</c> prints for one predictor (docs/learning.md, "Evaluation").</summary>
internal readonly record struct Scores(double Auc, double Precision, double Recall, double LeadSeconds, int BurstsCaught, int Bursts);

/// <summary>Ranking and alarm metrics over per-second probabilities.</summary>
internal static class Metrics
{
    /// <summary>A probability at or above this is an alarm.</summary>
    public const double AlarmThreshold = 0.5;

    /// <summary>
    /// Area under the ROC curve: the chance that a random positive scores above a random negative, ties counting one
    /// half (the Mann-Whitney statistic with mid-ranks). NaN when either class is empty.
    /// </summary>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length)
        {
            throw new ArgumentException("One label per score.", nameof(labels));
        }

        int[] order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        double[] keys = scores.ToArray();
        Array.Sort(keys, order);
        double positiveRanks = 0;
        long positives = 0;
        for (int i = 0; i < keys.Length;)
        {
            int j = i;
            while (j < keys.Length && keys[j] == keys[i])
            {
                j++;
            }

            double midRank = (i + 1 + j) / 2.0; // ranks i+1..j share their mean
            for (int k = i; k < j; k++)
            {
                if (labels[order[k]])
                {
                    positiveRanks += midRank;
                    positives++;
                }
            }

            i = j;
        }

        long negatives = scores.Length - positives;
        return positives == 0 || negatives == 0
            ? double.NaN
            : (positiveRanks - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>Precision and recall of the alarm (p at or above <see cref="AlarmThreshold"/>); NaN where undefined.</summary>
    public static (double Precision, double Recall) PrecisionRecall(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        long truePositives = 0, alarms = 0, positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            bool alarm = scores[i] >= AlarmThreshold;
            alarms += alarm ? 1 : 0;
            positives += labels[i] ? 1 : 0;
            truePositives += alarm && labels[i] ? 1 : 0;
        }

        return (alarms == 0 ? double.NaN : truePositives / (double)alarms, positives == 0 ? double.NaN : truePositives / (double)positives);
    }

    /// <summary>
    /// Lead time of each burst caught. For a burst starting at second <c>s</c> (<see cref="BurstLabels.Onsets"/>),
    /// the first alarm in [s - H, s] (H = <see cref="BurstLabels.HorizonSeconds"/>) at second <c>a</c> gives a lead of
    /// <c>s - a</c> seconds (0: the alarm came with the burst); no alarm in that window and the burst is missed.
    /// Onsets whose window starts before <paramref name="firstScored"/> (no prediction there) are left out.
    /// </summary>
    public static List<int> Leads(ReadOnlySpan<double> probabilityBySecond, IEnumerable<int> onsets, int firstScored, out int bursts)
    {
        var leads = new List<int>();
        bursts = 0;
        foreach (int onset in onsets)
        {
            int from = onset - BurstLabels.HorizonSeconds;
            if (from < firstScored || onset >= probabilityBySecond.Length)
            {
                continue;
            }

            bursts++;
            for (int a = from; a <= onset; a++)
            {
                if (probabilityBySecond[a] >= AlarmThreshold)
                {
                    leads.Add(onset - a);
                    break;
                }
            }
        }

        return leads;
    }
}
