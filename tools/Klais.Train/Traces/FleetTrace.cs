using Klais.Learning.Burst;

namespace Klais.Train.Traces;

/// <summary>
/// One recorded or simulated run of the fleet: a sample a second and the burst label of each second
/// (<see cref="BurstLabels"/>; <see cref="BurstLabels.Unknown"/> where the horizon runs past the end).
/// </summary>
internal sealed record FleetTrace(string Name, FleetSample[] Samples, sbyte[] Labels)
{
    public static FleetTrace Labelled(string name, FleetSample[] samples) => new(name, samples, BurstLabels.Compute(samples));

    /// <summary>Seconds that have a full feature window and a known label: the rows training and evaluation use.</summary>
    public IEnumerable<int> UsableSeconds()
    {
        for (int t = BurstFeatures.WindowSeconds - 1; t < Samples.Length; t++)
        {
            if (Labels[t] != BurstLabels.Unknown)
            {
                yield return t;
            }
        }
    }

    /// <summary>The feature row for second <paramref name="t"/> (t at least <see cref="BurstFeatures.WindowSeconds"/> - 1).</summary>
    public void WriteFeatures(int t, Span<float> features) =>
        BurstFeatures.Write(Samples.AsSpan(t - BurstFeatures.WindowSeconds + 1, BurstFeatures.WindowSeconds), features);
}
