using Klais.Learning.Burst;

namespace Klais.Learning.Tests.Burst;

[Trait("Category", "Unit")]
public sealed class BurstFeaturesTests
{
    private const int Window = BurstFeatures.WindowSeconds;

    [Fact]
    public void Names_match_the_row_length() => Assert.Equal(BurstFeatures.Count, BurstFeatures.Names.Count);

    [Fact]
    public void A_steady_fleet_has_flat_features()
    {
        // 06:00 UTC: a quarter of the day, so sin = 1 and cos = 0.
        FleetSample[] window = Steady(unixEnd: 6 * 3600);
        float[] f = Features(window);

        Assert.Equal(Math.Log(101), f[0], 5);
        Assert.Equal(1, f[1], 6);
        Assert.Equal(0, f[2], 6);
        Assert.Equal(0, f[3], 6);
        Assert.Equal(0, f[4], 6);
        Assert.Equal(0, f[5], 3);
        Assert.Equal(2 / 1000.0, f[6], 6);
        Assert.Equal(10 / 1000.0, f[7], 6);
        Assert.Equal(1, f[8], 6);         // 2 a second, as usual (the usual is at least 1)
        Assert.Equal(0, f[9], 6);
        Assert.Equal(50 / 100.0, f[10], 6);
        Assert.Equal(0, f[11], 6);
        Assert.Equal(0.25, f[12], 6);
        Assert.Equal(0, f[13], 6);
        Assert.Equal(1, f[14], 6);
        Assert.Equal(0, f[15], 6);
    }

    [Fact]
    public void A_jump_in_the_last_second_shows_in_rate_slopes_reconnects_and_lag()
    {
        FleetSample[] window = Steady(unixEnd: 18 * 3600);
        window[^1] = window[^1] with { PacketsPerSecond = 160, ReconnectsPerSecond = 50, ActiveDevices = 1100, KafkaLag = 110, Cpu = 0.5 };
        window[^5] = window[^5] with { ReconnectsPerSecond = 20 };
        float[] f = Features(window);

        double mean = (59 * 100 + 160) / 60.0; // 101
        Assert.Equal(Math.Log(161), f[0], 5);
        Assert.Equal(160 / mean, f[1], 5);
        Assert.Equal(60 / (3 * mean), f[2], 5);
        Assert.Equal(60 / (10 * mean), f[3], 5);
        Assert.Equal(60 / (30 * mean), f[4], 5);
        Assert.Equal(Math.Sqrt((59 * 100.0 * 100 + 160 * 160) / 60 - mean * mean) / mean, f[5], 4);
        Assert.Equal(50 / 1100.0, f[6], 6);
        Assert.Equal((50 + 20 + 2 + 2 + 2) / 1100.0, f[7], 6);
        double usual = (58 * 2 + 20 + 50) / 60.0; // 3.1
        Assert.Equal((50 + 20 + 2 + 2 + 2) / 5.0 / usual, f[8], 5);
        Assert.Equal(0.1, f[9], 6);
        Assert.Equal(110 / mean, f[10], 5);
        Assert.Equal(60 / (5 * mean), f[11], 5);
        Assert.Equal(0.5, f[12], 6);
        Assert.Equal(0.25, f[13], 6);
        Assert.Equal(-1, f[14], 5);        // 18:00
        Assert.Equal(0, f[15], 5);
    }

    [Fact]
    public void A_window_of_the_wrong_length_is_refused()
    {
        var window = new FleetSample[Window - 1];
        Assert.Throws<ArgumentException>(() => BurstFeatures.Write(window, new float[BurstFeatures.Count]));
    }

    [Fact]
    public void History_gives_the_same_row_as_the_window_it_holds_also_after_wrapping()
    {
        var history = new FleetHistory();
        var all = new List<FleetSample>();
        var fromHistory = new float[BurstFeatures.Count];
        for (int t = 0; t < 3 * Window + 7; t++)
        {
            var sample = new FleetSample(1_000 + t, 100 + (t * 37 % 11), t % 3, 1000 + t, t * 2, 0.01 * (t % 50));
            history.Add(sample);
            all.Add(sample);
            if (all.Count < Window)
            {
                Assert.False(history.TryWriteFeatures(fromHistory));
                continue;
            }

            Assert.True(history.TryWriteFeatures(fromHistory));
            Assert.Equal(Features([.. all.Skip(all.Count - Window)]), fromHistory);
        }
    }

    private static FleetSample[] Steady(long unixEnd) =>
        [.. Enumerable.Range(0, Window).Select(i => new FleetSample(unixEnd - Window + 1 + i, 100, 2, 1000, 50, 0.25))];

    private static float[] Features(FleetSample[] window)
    {
        var features = new float[BurstFeatures.Count];
        BurstFeatures.Write(window, features);
        return features;
    }
}
