namespace Klais.Grains.Swarm;

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
