namespace Klais.Edge.Delivery;

/// <summary>Settings of the <see cref="KafkaCircuit"/>.</summary>
internal sealed class CircuitOptions
{
    /// <summary>How often delivery health is sampled and fed to the breaker. 100 ms: an outage is seen within a few samples.</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The breaker opens when, within this window, at least <see cref="FailureRatio"/> of the samples (and at least 5)
    /// were failing (<c>KLAIS_BREAKER_WINDOW_MS</c>; Polly's sampling duration, 500 ms or more).
    /// </summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(2);

    public double FailureRatio { get; set; } = 0.8;

    /// <summary>How long the breaker stays open before a half-open probe (<c>KLAIS_BREAKER_BREAK_MS</c>; 500 ms or more).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Records in flight with no acknowledgement for this long make a sample failing (<c>KLAIS_BREAKER_STALL_MS</c>).</summary>
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long the half-open probe (a metadata request) may take.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Samples of evidence the breaker needs before it may open: at least 5, or half of the window's samples.</summary>
    public int MinimumSamples => (int)Math.Max(5, Window / SampleInterval / 2);

    public IEnumerable<string> Validate()
    {
        if (Window < TimeSpan.FromMilliseconds(500) || Window > TimeSpan.FromMinutes(10))
        {
            yield return $"`{nameof(CircuitOptions)}.{nameof(Window)}` is {Window}. It must be from 500 ms to 10 minutes.";
        }

        if (BreakDuration < TimeSpan.FromMilliseconds(500) || BreakDuration > TimeSpan.FromHours(1))
        {
            yield return $"`{nameof(CircuitOptions)}.{nameof(BreakDuration)}` is {BreakDuration}. It must be from 500 ms to 1 hour.";
        }

        if (StallAfter < SampleInterval)
        {
            yield return $"`{nameof(CircuitOptions)}.{nameof(StallAfter)}` is {StallAfter}. It must be at least the sample interval ({SampleInterval}).";
        }

        if (FailureRatio is <= 0 or > 1)
        {
            yield return $"`{nameof(CircuitOptions)}.{nameof(FailureRatio)}` is {FailureRatio}. It must be greater than 0 and at most 1.";
        }
    }
}
