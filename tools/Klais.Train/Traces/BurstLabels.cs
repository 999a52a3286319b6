using Klais.Learning.Burst;

namespace Klais.Train.Traces;

/// <summary>
/// The burst label, derived from the future of a trace (docs/learning.md). The smoothed level is an exponential
/// moving average of the fleet rate with a <see cref="LevelSeconds"/> time constant. Second <c>s</c> is a surge when
/// the mean rate of the <see cref="SustainSeconds"/> seconds ending at <c>s</c> exceeds <see cref="Factor"/> times the
/// level of the second before (so a one-second spike is not a burst); second <c>t</c> is labelled 1 when a surge
/// happens within the next <see cref="HorizonSeconds"/> seconds, (t, t + H]. A burst's onset is a surge with no surge
/// in the <see cref="HorizonSeconds"/> seconds before it.
/// </summary>
internal static class BurstLabels
{
    public const int HorizonSeconds = 30;

    public const double Factor = 1.5;

    public const double LevelSeconds = 60;

    public const int SustainSeconds = 3;

    /// <summary>The label of the last <see cref="HorizonSeconds"/> seconds, whose future the trace does not hold.</summary>
    public const sbyte Unknown = -1;

    public static sbyte[] Compute(ReadOnlySpan<FleetSample> samples)
    {
        bool[] surges = Surges(samples);
        var labels = new sbyte[samples.Length];
        int nextSurge = int.MaxValue;
        for (int t = samples.Length - 1; t >= 0; t--)
        {
            labels[t] = t + HorizonSeconds >= samples.Length ? Unknown : (sbyte)(nextSurge - t <= HorizonSeconds ? 1 : 0);
            if (surges[t])
            {
                nextSurge = t;
            }
        }

        return labels;
    }

    public static bool[] Surges(ReadOnlySpan<FleetSample> samples)
    {
        var surges = new bool[samples.Length];
        if (samples.IsEmpty)
        {
            return surges;
        }

        double level = samples[0].PacketsPerSecond;
        double recent = samples[0].PacketsPerSecond;
        for (int s = 1; s < samples.Length; s++)
        {
            double rate = samples[s].PacketsPerSecond;
            recent += rate;
            if (s >= SustainSeconds)
            {
                recent -= samples[s - SustainSeconds].PacketsPerSecond;
            }

            surges[s] = recent / Math.Min(s + 1, SustainSeconds) > Factor * level;
            level += (rate - level) / LevelSeconds;
        }

        return surges;
    }

    /// <summary>Seconds at which a burst starts: a surge after <see cref="HorizonSeconds"/> seconds without one.</summary>
    public static List<int> Onsets(ReadOnlySpan<FleetSample> samples)
    {
        bool[] surges = Surges(samples);
        var onsets = new List<int>();
        int lastSurge = int.MinValue / 2;
        for (int s = 0; s < surges.Length; s++)
        {
            if (surges[s])
            {
                if (s - lastSurge > HorizonSeconds)
                {
                    onsets.Add(s);
                }

                lastSurge = s;
            }
        }

        return onsets;
    }
}
