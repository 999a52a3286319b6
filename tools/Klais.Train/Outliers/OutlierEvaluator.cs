using System.Globalization;
using Klais.Learning.Outliers;

namespace Klais.Train.Outliers;

/// <summary>
/// <c>klais-train outliers</c>: the fleet outlier model against the per-device z-score on injected anomalies. A
/// simulated fleet (<see cref="DeviceFleet"/>) reports <c>windows</c> windows, with anomalies in
/// <c>share / 2</c> of the devices in each (recent history is not clean); an <see cref="IsolationForest"/> is fitted on
/// the fleet's last three windows, as the silo would on its recent history; then one more window, with anomalies in
/// <c>share</c> of the devices, is scored by both. A device is flagged by the forest at a score of at least
/// <c>threshold</c>, by the z-score at |z| ≥ <c>z</c> (the silo's KLAIS_ANOMALY_Z). Prints one line each for the forest,
/// the z-score and the two together: precision and recall over all devices, and the recall per anomaly kind.
/// </summary>
internal static class OutlierEvaluator
{
    public const int HistoryWindows = 3;

    public static IReadOnlyList<string> Run(int seed, int devices, int windows, double share, double threshold, double z)
    {
        var fleet = new DeviceFleet(devices, seed);
        var recent = new Queue<DeviceWindow[]>();
        for (int w = 0; w < windows; w++)
        {
            recent.Enqueue(fleet.Next(w, share / 2));
            if (recent.Count > HistoryWindows)
            {
                recent.Dequeue();
            }
        }

        float[] rows = new float[recent.Count * devices * DeviceFeatures.Count];
        int at = 0;
        foreach (DeviceWindow[] window in recent)
        {
            foreach (DeviceWindow d in window)
            {
                DeviceFeatures.Write(d.Profile, rows.AsSpan(at, DeviceFeatures.Count));
                at += DeviceFeatures.Count;
            }
        }

        IsolationForest forest = IsolationForest.Fit(rows, DeviceFeatures.Count, trees: 100, sampleSize: 256, seed: seed);
        DeviceWindow[] scored = fleet.Next(windows, share);
        Span<float> row = stackalloc float[DeviceFeatures.Count];
        bool[] byForest = new bool[scored.Length], byZ = new bool[scored.Length], byEither = new bool[scored.Length];
        for (int i = 0; i < scored.Length; i++)
        {
            DeviceFeatures.Write(scored[i].Profile, row);
            byForest[i] = forest.Score(row) >= threshold;
            byZ[i] = Math.Abs(scored[i].ZScore) >= z;
            byEither[i] = byForest[i] || byZ[i];
        }

        string settings = string.Create(CultureInfo.InvariantCulture, $"devices={devices} anomalous={scored.Count(d => d.Injected != InjectedAnomaly.None)}");
        return
        [
            Line(string.Create(CultureInfo.InvariantCulture, $"isolation_forest threshold={threshold:0.00}"), scored, byForest) + " " + settings,
            Line(string.Create(CultureInfo.InvariantCulture, $"zscore z={z:0.#}"), scored, byZ),
            Line("either", scored, byEither),
        ];
    }

    private static string Line(string name, DeviceWindow[] devices, bool[] flagged)
    {
        int truePositives = 0, falsePositives = 0, anomalous = 0;
        for (int i = 0; i < devices.Length; i++)
        {
            bool anomaly = devices[i].Injected != InjectedAnomaly.None;
            anomalous += anomaly ? 1 : 0;
            truePositives += anomaly && flagged[i] ? 1 : 0;
            falsePositives += !anomaly && flagged[i] ? 1 : 0;
        }

        double precision = truePositives + falsePositives == 0 ? 0 : truePositives / (double)(truePositives + falsePositives);
        double recall = anomalous == 0 ? 0 : truePositives / (double)anomalous;
        var kinds = new[] { InjectedAnomaly.Cloned, InjectedAnomaly.Flood, InjectedAnomaly.Silent, InjectedAnomaly.GapStorm }.Select(kind =>
        {
            int total = 0, caught = 0;
            for (int i = 0; i < devices.Length; i++)
            {
                if (devices[i].Injected == kind)
                {
                    total++;
                    caught += flagged[i] ? 1 : 0;
                }
            }

            return string.Create(CultureInfo.InvariantCulture, $"{Name(kind)}={caught}/{total}");
        });
        return string.Create(CultureInfo.InvariantCulture,
            $"{name} precision={precision:0.0000} recall={recall:0.0000} flagged={truePositives + falsePositives} false_positives={falsePositives} {string.Join(' ', kinds)}");
    }

    private static string Name(InjectedAnomaly kind) => kind switch
    {
        InjectedAnomaly.Cloned => "cloned",
        InjectedAnomaly.Flood => "flood",
        InjectedAnomaly.Silent => "silent",
        _ => "gap_storm",
    };
}
