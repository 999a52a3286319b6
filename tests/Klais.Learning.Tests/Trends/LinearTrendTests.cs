using Klais.Learning.Trends;

namespace Klais.Learning.Tests.Trends;

[Trait("Category", "Unit")]
public sealed class LinearTrendTests
{
    [Fact]
    public void Points_on_a_line_give_its_slope_and_intercept_with_a_perfect_fit()
    {
        double[] t = [-4, -3, -2, -1, 0];
        double[] v = t.Select(x => 1000 + (25 * x)).ToArray();
        Assert.True(LinearTrend.TryFit(t, v, out TrendFit fit));
        Assert.Equal((5, 25.0, 1000.0, 1.0), (fit.Points, Math.Round(fit.Slope, 9), Math.Round(fit.Intercept, 9), fit.RSquared));
        Assert.Equal(0, fit.ResidualStd, 9);
        Assert.Equal(1000 + (25 * 300), fit.At(300), 6);
    }

    [Fact]
    public void Noise_around_a_line_lowers_r_squared_and_shows_in_the_residuals()
    {
        double[] t = [0, 1, 2, 3];
        double[] v = [11, 11, 15, 15];
        Assert.True(LinearTrend.TryFit(t, v, out TrendFit fit));
        // mean t 1.5, mean v 13; Stv = (-1.5)(-2) + (-0.5)(-2) + (0.5)(2) + (1.5)(2) = 8; Stt = 5: slope 1.6, intercept 10.6
        Assert.Equal(1.6, fit.Slope, 12);
        Assert.Equal(10.6, fit.Intercept, 12);
        // residuals 0.4, -1.2, 1.2, -0.4: SSE 3.2 of Svv 16, R² 0.8, residual std sqrt(3.2 / 4)
        Assert.Equal(0.8, fit.RSquared, 12);
        Assert.Equal(Math.Sqrt(0.8), fit.ResidualStd, 12);
    }

    [Fact]
    public void A_flat_series_is_a_flat_line_that_fits()
    {
        Assert.True(LinearTrend.TryFit([0, 1, 2], [7, 7, 7], out TrendFit fit));
        Assert.Equal((0.0, 7.0, 1.0, 0.0), (fit.Slope, fit.Intercept, fit.RSquared, fit.ResidualStd));
    }

    [Fact]
    public void Too_few_points_one_instant_or_a_non_finite_value_give_no_line()
    {
        Assert.False(LinearTrend.TryFit([1], [5], out _));
        Assert.False(LinearTrend.TryFit([3, 3, 3], [1, 2, 3], out _));
        Assert.False(LinearTrend.TryFit([0, 1, 2], [1, double.NaN, 3], out _));
    }
}
