namespace Klais.Edge.Dedupe;

/// <summary>Settings of the <see cref="DedupeTable"/>.</summary>
internal sealed class DedupeOptions
{
    public const int MinDevices = 1024;
    public const int MaxDevices = 1 << 28;

    /// <summary>
    /// Devices the table can hold (<c>KLAIS_DEDUPE_MAX_DEVICES</c>), rounded up to a power of two. 32 bytes each,
    /// allocated at start (the OS commits pages as they are touched). Keep active devices under about half of it:
    /// sets of 8 then rarely overflow, and an overflow evicts the least recently seen device of the set.
    /// </summary>
    public int MaxDeviceCount { get; set; } = 1 << 20;

    /// <summary>A device unseen this long is forgotten first when its set needs room (<c>KLAIS_DEDUPE_IDLE_SECONDS</c>).</summary>
    public TimeSpan IdleAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// A device that has sent nothing but sequences older than its window for this long is taken to have restarted
    /// its counter and is re-anchored at its latest sequence (60 s: far longer than any replay of buffered history).
    /// </summary>
    public TimeSpan ResetAfter { get; set; } = TimeSpan.FromSeconds(60);

    public IEnumerable<string> Validate()
    {
        if (MaxDeviceCount is < MinDevices or > MaxDevices)
        {
            yield return $"`{nameof(DedupeOptions)}.{nameof(MaxDeviceCount)}` is {MaxDeviceCount}. It must be from {MinDevices} to {MaxDevices}.";
        }

        if (IdleAfter < TimeSpan.FromSeconds(1))
        {
            yield return $"`{nameof(DedupeOptions)}.{nameof(IdleAfter)}` is {IdleAfter}. It must be at least 1 second.";
        }

        if (ResetAfter < TimeSpan.FromSeconds(1))
        {
            yield return $"`{nameof(DedupeOptions)}.{nameof(ResetAfter)}` is {ResetAfter}. It must be at least 1 second.";
        }
    }
}
