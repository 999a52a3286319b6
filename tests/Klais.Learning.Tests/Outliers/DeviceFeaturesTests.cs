using Klais.Learning.Outliers;
using Klais.Train;
using Klais.Train.Outliers;

namespace Klais.Learning.Tests.Outliers;

[Trait("Category", "Unit")]
public sealed class DeviceFeaturesTests
{
    [Fact]
    public void A_row_puts_counts_and_rates_on_a_log_scale_and_clamps_shares()
    {
        Assert.Equal(DeviceFeatures.Count, DeviceFeatures.Names.Count);
        float[] row = new float[DeviceFeatures.Count];
        DeviceFeatures.Write(new DeviceProfile(Rate: 9, DistinctSources: 3, GapShare: 0.25, DuplicateShare: 2, RateSpread: 0.5, Edges: 1, UsualRate: 99), row);
        Assert.Equal([(float)Math.Log(10), (float)Math.Log(4), 0.25f, 1f, 0.5f, (float)Math.Log(2), (float)(Math.Log(10) - Math.Log(100))], row);

        DeviceFeatures.Write(new DeviceProfile(double.NaN, -1, double.PositiveInfinity, -0.5, double.NaN, 0, double.NaN), row);
        Assert.All(row, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Outlier_evaluation_is_deterministic_and_the_forest_finds_cloned_ids_the_z_score_misses()
    {
        IReadOnlyList<string> first = OutlierEvaluator.Run(seed: 11, devices: 3000, windows: 12, share: 0.05, threshold: Program.DefaultOutlierThreshold, z: 4);
        Assert.Equal(first, OutlierEvaluator.Run(seed: 11, devices: 3000, windows: 12, share: 0.05, threshold: Program.DefaultOutlierThreshold, z: 4));
        Assert.Equal(3, first.Count);
        Assert.StartsWith("isolation_forest threshold=0.65 precision=", first[0], StringComparison.Ordinal);
        Assert.StartsWith("zscore z=4 precision=", first[1], StringComparison.Ordinal);

        static int Caught(string line, string kind) =>
            int.Parse(line.Split(' ').Single(p => p.StartsWith(kind + "=", StringComparison.Ordinal)).Split('=', '/')[1], System.Globalization.CultureInfo.InvariantCulture);
        // A cloned id barely moves the rate (2-3 x); its sources and edges do. A flood is the z-score's case.
        Assert.True(Caught(first[0], "cloned") > Caught(first[1], "cloned"), string.Join("\n", first));
        Assert.True(Caught(first[1], "flood") >= Caught(first[0], "flood"), string.Join("\n", first));
        Assert.True(Caught(first[2], "cloned") >= Caught(first[0], "cloned") && Caught(first[2], "flood") >= Caught(first[1], "flood"));
    }
}
