namespace Klais.Learning.Trends;

/// <summary>
/// A least-squares line through a series, <c>value ≈ intercept + slope × t</c>, with how well it fits: what
/// Prometheus' <c>deriv()</c> (the slope) and <c>predict_linear()</c> (the forecast) give an operator, plus
/// <see cref="RSquared"/> and the residuals' standard deviation so a forecast from a noisy series can be told apart.
/// </summary>
/// <param name="Points">Points the line was fitted on.</param>
/// <param name="Slope">Change of the value per unit of t (per second for the rates).</param>
/// <param name="Intercept">The line's value at t = 0.</param>
/// <param name="RSquared">Share of the variance the line explains, 0..1; 1 for a series without variance that the line matches.</param>
/// <param name="ResidualStd">Standard deviation of the values around the line.</param>
public readonly record struct TrendFit(int Points, double Slope, double Intercept, double RSquared, double ResidualStd)
{
    /// <summary>The line's value at <paramref name="t"/>.</summary>
    public double At(double t) => Intercept + (Slope * t);
}

public static class LinearTrend
{
    /// <summary>
    /// Fits the line through (<paramref name="t"/>[i], <paramref name="values"/>[i]); false with fewer than two points,
    /// all at the same t, or a non-finite value.
    /// </summary>
    public static bool TryFit(ReadOnlySpan<double> t, ReadOnlySpan<double> values, out TrendFit fit)
    {
        fit = default;
        int n = Math.Min(t.Length, values.Length);
        if (n < 2)
        {
            return false;
        }

        double meanT = 0, meanV = 0;
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(t[i]) || !double.IsFinite(values[i]))
            {
                return false;
            }

            meanT += t[i];
            meanV += values[i];
        }

        meanT /= n;
        meanV /= n;
        double stt = 0, stv = 0, svv = 0;
        for (int i = 0; i < n; i++)
        {
            double dt = t[i] - meanT, dv = values[i] - meanV;
            stt += dt * dt;
            stv += dt * dv;
            svv += dv * dv;
        }

        if (stt <= 0)
        {
            return false;
        }

        double slope = stv / stt;
        double intercept = meanV - (slope * meanT);
        double residual = 0;
        for (int i = 0; i < n; i++)
        {
            double r = values[i] - (intercept + (slope * t[i]));
            residual += r * r;
        }

        double rSquared = svv > 0 ? Math.Clamp(1 - (residual / svv), 0, 1) : 1;
        fit = new TrendFit(n, slope, intercept, rSquared, Math.Sqrt(residual / n));
        return true;
    }
}
