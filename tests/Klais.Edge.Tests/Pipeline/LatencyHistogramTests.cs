using Klais.Edge.Pipeline;

namespace Klais.Edge.Tests.Pipeline;

public sealed class LatencyHistogramTests
{
    [Theory]
    [InlineData(0L)]
    [InlineData(31L)]
    [InlineData(255L)]
    [InlineData(256L)]
    [InlineData(1_000L)]
    [InlineData(123_456L)]
    [InlineData(1_000_000_000L)]
    public void Bucket_upper_bound_is_at_most_an_eighth_above_the_value(long nanos)
    {
        long upper = LatencyHistogram.UpperBound(LatencyHistogram.Index(nanos));

        Assert.True(upper > nanos, $"upper {upper} for {nanos}");
        Assert.True(upper <= Math.Max(32, nanos * 1.125 + 1), $"upper {upper} for {nanos}");
    }

    [Fact]
    public void Quantiles_come_from_the_recorded_distribution()
    {
        var h = new LatencyHistogram();
        for (int i = 0; i < 990; i++)
        {
            h.RecordNanos(10_000);
        }

        for (int i = 0; i < 10; i++)
        {
            h.RecordNanos(5_000_000);
        }

        Assert.Equal(1000, h.Count);
        Assert.InRange(h.QuantileNanos(0.5), 10_000, 11_250);
        Assert.InRange(h.QuantileNanos(0.99), 10_000, 11_250);
        Assert.InRange(h.QuantileNanos(0.999), 5_000_000, 5_625_000);
        Assert.Equal(0.0099 + 0.05, h.SumSeconds, 6);
    }

    [Fact]
    public void Empty_histogram_reports_zero()
    {
        Assert.Equal(0, new LatencyHistogram().QuantileNanos(0.99));
    }
}
