using Klais.LoadGen;

namespace Klais.Edge.Tests.LoadGen;

public sealed class TrafficMixTests
{
    [Theory]
    [InlineData(1000, 0.1, 0.05, 850, 25, 25, 25, 25, 50)]
    [InlineData(1000, 0.0, 0.0, 1000, 0, 0, 0, 0, 0)]
    [InlineData(1000, 0.0, 0.2, 800, 0, 0, 0, 0, 200)]
    [InlineData(10, 0.5, 0.5, 0, 2, 1, 1, 1, 5)]
    [InlineData(7, 0.3, 0.2, 4, 1, 0, 0, 0, 2)]
    public void Kinds_come_in_the_documented_counts(
        int count, double bad, double replay, int valid, int tooShort, int badMagic, int badDeviceId, int invalidJson, int replays)
    {
        var mix = new TrafficMix(bad, replay);

        Dictionary<DatagramKind, int> counts = Enumerable.Range(0, count).Select(_ => mix.Next())
            .GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(valid, counts.GetValueOrDefault(DatagramKind.Valid));
        Assert.Equal(tooShort, counts.GetValueOrDefault(DatagramKind.TooShort));
        Assert.Equal(badMagic, counts.GetValueOrDefault(DatagramKind.BadMagic));
        Assert.Equal(badDeviceId, counts.GetValueOrDefault(DatagramKind.BadDeviceId));
        Assert.Equal(invalidJson, counts.GetValueOrDefault(DatagramKind.InvalidJson));
        Assert.Equal(replays, counts.GetValueOrDefault(DatagramKind.Replay));
    }

    [Fact]
    public void Bad_datagrams_are_spread_over_the_run_not_bunched()
    {
        var mix = new TrafficMix(0.1, 0);

        int[] badPerHundred = Enumerable.Range(0, 10)
            .Select(_ => Enumerable.Range(0, 100).Count(_ => mix.Next() != DatagramKind.Valid))
            .ToArray();

        Assert.All(badPerHundred, n => Assert.Equal(10, n));
    }
}
