using Klais.Contracts.Configuration;

namespace Klais.Edge.Dam;

/// <summary>
/// Settings of the <see cref="Dam"/>. The edge's config layer maps <c>KLAIS_DAM_MAX_RATE</c> and
/// <c>KLAIS_DAM_BURST_SIZE</c> onto <see cref="MaxRate"/> and <see cref="BurstSize"/>.
/// </summary>
internal sealed class DamOptions
{
    /// <summary>
    /// Highest rate the Dam runs at: twice the highest rate an operator may configure (<see cref="PolicySettings.DamMaxRate"/>,
    /// bounding <c>KLAIS_DAM_MAX_RATE</c>, <c>POST /config</c> and fleet policies), because the control plane's PID
    /// may raise a configured rate by its output's bound of +1 (<c>rate = base × (1 + output)</c>). 2e8/s, far below
    /// one token per timestamp tick (1e9/s with Stopwatch on Linux), so <c>burst × interval</c> stays far from
    /// overflowing a long.
    /// </summary>
    public static double MaxRateLimit => 2 * PolicySettings.DamMaxRate.Max;

    /// <summary>Largest burst: <see cref="PolicySettings.DamBurstSize"/>'s bound, the one configuration and control share.</summary>
    public static long MaxBurstLimit => (long)PolicySettings.DamBurstSize.Max;

    /// <summary>Most records the overflow queue may be configured to hold (<c>KLAIS_DAM_QUEUE_MAX_MESSAGES</c>).</summary>
    public const int QueueMaxMessagesLimit = 50_000_000;

    /// <summary>Most bytes the overflow queue may be configured to hold (<c>KLAIS_DAM_QUEUE_MAX_BYTES</c>); preallocated.</summary>
    public const int QueueMaxBytesLimit = 1 << 30;

    /// <summary>
    /// Largest multiplier of the overflow queue's bound the control plane may set (<see cref="Dam.Rescale"/>); the
    /// queue's arrays are allocated for it up front, uninitialized, so an unused reserve is not resident.
    /// 2: the swarm's level-3 burst response ("widen the Dam queue") asks for exactly 2.
    /// </summary>
    public const double MaxQueueScale = 2;

    /// <summary>Smallest multiplier <see cref="Dam.Rescale"/> accepts.</summary>
    public const double MinQueueScale = 0.25;

    /// <summary>Sustained records per second handed to the sink.</summary>
    public double MaxRate { get; set; } = 10_000;

    /// <summary>Tokens the bucket holds when full: how many records may pass at once after a quiet spell.</summary>
    public long BurstSize { get; set; } = 50_000;

    /// <summary>Records the overflow queue holds at most.</summary>
    public int QueueMaxMessages { get; set; } = 100_000;

    /// <summary>Bytes (device id + payload) the overflow queue holds at most; preallocated once.</summary>
    public int QueueMaxBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Every rule this instance breaks, each naming the setting, its value and the rule.</summary>
    public IEnumerable<string> Validate()
    {
        foreach (string problem in ValidateRate(MaxRate, BurstSize))
        {
            yield return problem;
        }

        if (QueueMaxMessages is < 1 or > QueueMaxMessagesLimit)
        {
            yield return $"`DamOptions.QueueMaxMessages` is {QueueMaxMessages}. It must be from 1 to {QueueMaxMessagesLimit}.";
        }

        if (QueueMaxBytes is < 1 or > QueueMaxBytesLimit)
        {
            yield return $"`DamOptions.QueueMaxBytes` is {QueueMaxBytes}. It must be from 1 to {QueueMaxBytesLimit}.";
        }
    }

    /// <summary>The rules for rate and burst, shared with <see cref="Dam.Reconfigure"/>.</summary>
    internal static IEnumerable<string> ValidateRate(double maxRate, long burstSize)
    {
        if (double.IsNaN(maxRate) || maxRate <= 0)
        {
            yield return $"`DamOptions.MaxRate` is {maxRate}. It must be greater than 0.";
        }
        else if (maxRate > MaxRateLimit)
        {
            yield return $"`DamOptions.MaxRate` is {maxRate}. It must be at most {MaxRateLimit:0} per second.";
        }

        if (burstSize < 1)
        {
            yield return $"`DamOptions.BurstSize` is {burstSize}. It must be at least 1.";
        }
        else if (burstSize > MaxBurstLimit)
        {
            yield return $"`DamOptions.BurstSize` is {burstSize}. It must be at most {MaxBurstLimit}.";
        }
    }

    /// <summary>The rule for <see cref="Dam.Rescale"/>'s multiplier.</summary>
    internal static IEnumerable<string> ValidateQueueScale(double scale)
    {
        if (double.IsNaN(scale) || scale < MinQueueScale || scale > MaxQueueScale)
        {
            yield return $"The overflow queue scale is {scale}. It must be between {MinQueueScale} and {MaxQueueScale}.";
        }
    }

    internal static void ThrowIfInvalid(IEnumerable<string> problems) => Configuration.OptionsValidation.ThrowIfInvalid(problems);
}
