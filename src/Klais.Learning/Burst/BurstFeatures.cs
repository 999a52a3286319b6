namespace Klais.Learning.Burst;

/// <summary>
/// The burst model's input: <see cref="Count"/> floats computed from the last <see cref="WindowSeconds"/> fleet
/// samples. The only definition: <c>klais-train</c> computes its training rows with it and the silo its live row, so
/// the two cannot drift. Rates are divided by the window's mean rate so that one model serves fleets of any size.
/// Changing a feature changes <see cref="InputName"/>: a model trained on other features then fails to load instead of
/// predicting nonsense.
/// </summary>
public static class BurstFeatures
{
    /// <summary>Samples (seconds) a feature row looks back over, the current one included.</summary>
    public const int WindowSeconds = 60;

    /// <summary>Floats in a feature row.</summary>
    public const int Count = 16;

    /// <summary>The ONNX model's input name; it carries the feature set's version.</summary>
    public const string InputName = "burst_features_v1";

    /// <summary>Feature names in row order (docs/learning.md describes each).</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "rate_log", "rate_to_level", "slope_3s", "slope_10s", "slope_30s", "rate_cv",
        "reconnects_share", "reconnects_share_5s", "reconnects_to_usual", "devices_growth_10s",
        "lag_seconds", "lag_slope_5s", "cpu", "cpu_delta_10s", "time_of_day_sin", "time_of_day_cos",
    ];

    /// <summary>
    /// Writes the feature row for the last sample of <paramref name="window"/>, which holds exactly
    /// <see cref="WindowSeconds"/> consecutive samples, oldest first.
    /// </summary>
    public static void Write(ReadOnlySpan<FleetSample> window, Span<float> features)
    {
        if (window.Length != WindowSeconds)
        {
            throw new ArgumentException($"A feature row needs {WindowSeconds} samples, got {window.Length}.", nameof(window));
        }

        if (features.Length < Count)
        {
            throw new ArgumentException($"A feature row has {Count} floats, the destination holds {features.Length}.", nameof(features));
        }

        int now = WindowSeconds - 1;
        FleetSample current = window[now];

        double sum = 0, sumSquares = 0, reconnectSum = 0;
        foreach (FleetSample s in window)
        {
            sum += s.PacketsPerSecond;
            sumSquares += s.PacketsPerSecond * s.PacketsPerSecond;
            reconnectSum += s.ReconnectsPerSecond;
        }

        double mean = sum / WindowSeconds;
        double level = Math.Max(mean, 1);
        double variance = Math.Max(sumSquares / WindowSeconds - mean * mean, 0);
        double devices = Math.Max(current.ActiveDevices, 1);
        double recent = 0;
        for (int i = now - 4; i <= now; i++)
        {
            recent += window[i].ReconnectsPerSecond;
        }

        double usualReconnects = Math.Max(reconnectSum / WindowSeconds, 1);
        double devicesBefore = Math.Max(window[now - 10].ActiveDevices, 1);
        double secondOfDay = ((current.UnixSeconds % 86_400) + 86_400) % 86_400;
        double angle = 2 * Math.PI * secondOfDay / 86_400;

        features[0] = (float)Math.Log(1 + Math.Max(current.PacketsPerSecond, 0));
        features[1] = (float)(current.PacketsPerSecond / level);
        features[2] = (float)Slope(window, now, 3, level);
        features[3] = (float)Slope(window, now, 10, level);
        features[4] = (float)Slope(window, now, 30, level);
        features[5] = (float)(Math.Sqrt(variance) / level);
        features[6] = (float)(current.ReconnectsPerSecond / devices);
        features[7] = (float)(recent / devices);
        features[8] = (float)(recent / 5 / usualReconnects);
        features[9] = (float)((current.ActiveDevices - window[now - 10].ActiveDevices) / devicesBefore);
        features[10] = (float)(current.KafkaLag / level);
        features[11] = (float)((current.KafkaLag - window[now - 5].KafkaLag) / (5 * level));
        features[12] = (float)current.Cpu;
        features[13] = (float)(current.Cpu - window[now - 10].Cpu);
        features[14] = (float)Math.Sin(angle);
        features[15] = (float)Math.Cos(angle);
    }

    /// <summary>Change of the rate per second over the last <paramref name="seconds"/>, relative to the window's level.</summary>
    private static double Slope(ReadOnlySpan<FleetSample> window, int now, int seconds, double level) =>
        (window[now].PacketsPerSecond - window[now - seconds].PacketsPerSecond) / (seconds * level);
}
