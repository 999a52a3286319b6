using Klais.Grains.Index;
using Klais.Learning.Outliers;

namespace Klais.Grains.Tests.Index;

public sealed class FleetOutliersTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void No_forest_before_the_shard_has_seen_a_fleet_then_a_cloned_id_scores_as_a_conclusive_outlier()
    {
        var model = new FleetOutliers(TimeSpan.FromMinutes(1));
        var random = new Random(4);
        float[] row = new float[DeviceFeatures.Count];
        for (int i = 0; i < FleetOutliers.MinDevices - 1; i++)
        {
            Assert.True(model.TryObserve($"d{i}", Ordinary(random, row), Start, out double? none));
            Assert.Null(none);
        }

        Assert.Null(model.Forest);
        Assert.True(model.TryObserve("d-last", Ordinary(random, row), Start, out double? first));
        Assert.NotNull(first);
        Assert.Equal((FleetOutliers.MinDevices, FleetOutliers.MinDevices, Start), (model.Rows, model.Devices, model.FittedAt));

        for (int i = 0; i < 5000; i++)
        {
            model.TryObserve($"d{i % 1000}", Ordinary(random, row), Start.AddSeconds(i / 50.0), out _);
        }

        Assert.Equal(FleetOutliers.Capacity, model.Rows); // a ring: recent history only
        Assert.True(model.FittedAt > Start, "refitted after a minute");

        // One id from 25 addresses over 3 edges at 2.5 × its usual rate.
        DeviceFeatures.Write(new DeviceProfile(2.5, 25, 0.001, 0, 0.1, 3, 1), row);
        Assert.True(model.TryObserve("clone", row, Start.AddSeconds(101), out double? clone));
        Assert.True(model.TryObserve("plain", Ordinary(random, row), Start.AddSeconds(101), out double? plain));
        Assert.True(clone >= 0.65, $"clone {clone}");
        Assert.True(plain < 0.6, $"plain {plain}");
    }

    [Fact]
    public void A_vector_of_the_wrong_length_or_with_nan_is_refused()
    {
        var model = new FleetOutliers(TimeSpan.FromMinutes(1));
        Assert.False(model.TryObserve("d", new float[3], Start, out _));
        float[] row = new float[DeviceFeatures.Count];
        row[2] = float.NaN;
        Assert.False(model.TryObserve("d", row, Start, out _));
        Assert.Equal(0, model.Rows);
    }

    /// <summary>
    /// An ordinary device of a mixed fleet: about 1/s (log-normal), 5 % behind NAT with 2-4 addresses, 10 % seen by two
    /// edges, a little loss. (A feature the whole fleet has the same value of is never split on: the forest cannot see a
    /// device that differs in it alone; docs/learning.md.)
    /// </summary>
    private static float[] Ordinary(Random random, float[] row)
    {
        double rate = Math.Exp((random.NextDouble() * 2) - 1);
        int sources = random.NextDouble() < 0.05 ? 2 + random.Next(3) : 1;
        int edges = random.NextDouble() < 0.1 ? 2 : 1;
        DeviceFeatures.Write(new DeviceProfile(rate, sources, 0.005 * random.NextDouble(), 0.002 * random.NextDouble(), 0.05 + (0.1 * random.NextDouble()), edges,
            rate * (0.8 + (0.4 * random.NextDouble()))), row);
        return row;
    }
}
