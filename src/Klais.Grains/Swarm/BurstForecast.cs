namespace Klais.Grains.Swarm;

/// <summary>
/// The heuristic burst predictor (before the ONNX model): Holt's linear trend on the fleet rate,
/// <c>level' = a*x + (1-a)*(level + trend)</c>, <c>trend' = b*(level' - level) + (1-b)*trend</c>; the forecast
/// <c>h</c> steps ahead is <c>level + h*trend</c>; the relative growth <c>g = h*trend / max(level, 1)</c> becomes a
/// probability through a logistic centred on <see cref="ControllerOptions.BurstGrowthMidpoint"/>.
/// </summary>
internal static class BurstForecast
{
    public static (double Level, double Trend) Holt(double level, double trend, double x, bool first, ControllerOptions o)
    {
        if (first)
        {
            return (x, 0);
        }

        double next = o.HoltAlpha * x + (1 - o.HoltAlpha) * (level + trend);
        return (next, o.HoltBeta * (next - level) + (1 - o.HoltBeta) * trend);
    }

    public static double Probability(double level, double trend, ControllerOptions o)
    {
        double growth = o.ForecastSteps * trend / Math.Max(level, 1);
        return 1 / (1 + Math.Exp(-(growth - o.BurstGrowthMidpoint) / o.BurstGrowthSpread));
    }
}

/// <summary>What the fleet does at each burst probability.</summary>
internal readonly record struct BurstResponse(int Level, double RateFactor, double QueueScale, int LingerMs, bool Alert)
{
    public static BurstResponse For(double probability) => probability switch
    {
        < 0.2 => new(0, 1.0, 1, 0, false),      // normal
        < 0.5 => new(1, 1.0, 1, 20, false),     // pre-scale Kafka batching
        < 0.8 => new(2, 0.75, 1, 20, false),    // cut rate limits 25%
        _ => new(3, 0.5, 2, 50, true),          // cut 50%, widen the Dam queue, alert
    };
}
