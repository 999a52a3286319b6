namespace Klais.Learning.Outliers;

/// <summary>
/// What the fleet outlier model knows of one device over its recent history, from what the edges report of it.
/// </summary>
/// <param name="Rate">Packets per second in the latest report window.</param>
/// <param name="DistinctSources">Source addresses the device id came from (the most any edge saw in a window).</param>
/// <param name="GapShare">Sequence gaps / (packets + gaps): packets lost or skipped on the way.</param>
/// <param name="DuplicateShare">Duplicates / packets.</param>
/// <param name="RateSpread">
/// Standard deviation of the per-window rate over the mean (EWMA). Edges do not measure inter-arrival times; the
/// spread of the rate across report windows is what stands for how evenly the device sends.
/// </param>
/// <param name="Edges">Edges that saw the device within the vote window.</param>
/// <param name="UsualRate">The device's own rate EWMA before this window: the fleet model also sees a device against itself.</param>
public readonly record struct DeviceProfile(double Rate, int DistinctSources, double GapShare, double DuplicateShare, double RateSpread, int Edges, double UsualRate);

/// <summary>
/// The outlier model's input: <see cref="Count"/> floats from a <see cref="DeviceProfile"/>. Counts and rates go on a
/// log scale (ln(1 + x)), so that a device at 2/s and one at 20/s are as far apart as 20/s and 200/s, and shares are
/// clamped to [0, 1]. The only definition: klais-train and the silo compute their rows with it.
/// </summary>
public static class DeviceFeatures
{
    public const int Count = 7;

    public static IReadOnlyList<string> Names { get; } = ["rate_log", "sources_log", "gap_share", "duplicate_share", "rate_spread", "edges_log", "rate_to_usual_log"];

    public static void Write(in DeviceProfile device, Span<float> features)
    {
        if (features.Length < Count)
        {
            throw new ArgumentException($"A device row has {Count} floats, the destination holds {features.Length}.", nameof(features));
        }

        features[0] = (float)Math.Log(1 + Finite(device.Rate));
        features[1] = (float)Math.Log(1 + Math.Max(device.DistinctSources, 0));
        features[2] = (float)Math.Clamp(Finite(device.GapShare), 0, 1);
        features[3] = (float)Math.Clamp(Finite(device.DuplicateShare), 0, 1);
        features[4] = (float)Math.Min(Finite(device.RateSpread), 100);
        features[5] = (float)Math.Log(1 + Math.Max(device.Edges, 0));
        features[6] = (float)(Math.Log(1 + Finite(device.Rate)) - Math.Log(1 + Finite(device.UsualRate)));
    }

    private static double Finite(double value) => double.IsFinite(value) && value > 0 ? value : 0;
}
