namespace Klais.Learning.Burst;

/// <summary>
/// The hand-tuned burst predictor the model is measured against, and the swarm grain's fallback when the model is
/// unavailable (or has not seen a full window yet): a plain class fed one fleet rate a step. Holt's linear
/// trend, <c>level' = a*x + (1-a)*(level + trend)</c>, <c>trend' = b*(level' - level) + (1-b)*trend</c>; the relative
/// growth over the horizon, <c>g = steps*trend / max(level, 1)</c>, becomes a probability through a logistic centred on
/// <see cref="Midpoint"/> with scale <see cref="Spread"/>. The first rate seeds the level with a zero trend.
/// </summary>
public sealed class HoltBurstHeuristic
{
    public double Alpha { get; init; } = 0.5;

    public double Beta { get; init; } = 0.3;

    /// <summary>Seconds ahead the forecast looks.</summary>
    public int Steps { get; init; } = 5;

    /// <summary>Relative growth over <see cref="Steps"/> at which the probability is one half.</summary>
    public double Midpoint { get; init; } = 0.5;

    public double Spread { get; init; } = 0.15;

    public double Level { get; private set; }

    public double Trend { get; private set; }

    /// <summary>False until the first rate arrives.</summary>
    public bool Started { get; private set; }

    /// <summary>Folds in the fleet rate of the next second and returns the burst probability after it.</summary>
    public double Update(double rate)
    {
        if (!Started)
        {
            (Level, Trend, Started) = (rate, 0, true);
        }
        else
        {
            double next = Alpha * rate + (1 - Alpha) * (Level + Trend);
            Trend = Beta * (next - Level) + (1 - Beta) * Trend;
            Level = next;
        }

        return Probability(Level, Trend);
    }

    public double Probability(double level, double trend)
    {
        double growth = Steps * trend / Math.Max(level, 1);
        return 1 / (1 + Math.Exp(-(growth - Midpoint) / Spread));
    }

    public void Reset() => (Level, Trend, Started) = (0, 0, false);

    /// <summary>Continues from a level and trend kept elsewhere (the swarm grain's stored state) as if it had computed them.</summary>
    public void Resume(double level, double trend) => (Level, Trend, Started) = (level, trend, true);
}
