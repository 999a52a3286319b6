using Klais.Learning.Outliers;

namespace Klais.Train.Outliers;

/// <summary>The anomalies <see cref="DeviceFleet"/> injects into a device's last report window.</summary>
internal enum InjectedAnomaly
{
    None,

    /// <summary>The id used by other devices too: many more source addresses, more edges, 2–3 × the rate.</summary>
    Cloned,

    /// <summary>8–50 × its usual rate.</summary>
    Flood,

    /// <summary>Gone (nearly) silent: 0–5 % of its usual rate, a trickle that still gets reported.</summary>
    Silent,

    /// <summary>20–60 % of its sequence numbers missing, and fewer packets delivered.</summary>
    GapStorm,
}

/// <summary>One device's features in one report window, and what was injected into it.</summary>
internal readonly record struct DeviceWindow(DeviceProfile Profile, double ZScore, InjectedAnomaly Injected);

/// <summary>
/// A simulated fleet of devices, report window by report window, for the outlier evaluation: heterogeneous on
/// purpose (rates over three orders of magnitude, devices behind NAT with a few addresses, roaming devices seen by two
/// edges, lossy links, retransmitting firmware, devices that send every other window), so that "unusual for the
/// fleet" and "unusual for this device" differ as they do in real fleets. In the last window a share of the devices
/// gets one of the <see cref="InjectedAnomaly"/> kinds. Per device the rate's EWMA and variance are kept as the device
/// grain keeps them (α 0.1, the deviation floored at the counting noise), giving the z-score the grain computes.
/// Deterministic for a seed.
/// </summary>
internal sealed class DeviceFleet
{
    public const double WindowSeconds = 10;
    private const double EwmaAlpha = 0.1;
    private const int MinReportsForScore = 5;

    private readonly Random _random;
    private readonly Device[] _devices;

    public DeviceFleet(int devices, int seed)
    {
        _random = new Random(seed);
        _devices = new Device[devices];
        for (int i = 0; i < devices; i++)
        {
            double u = _random.NextDouble();
            _devices[i] = new Device
            {
                Rate = Math.Clamp(Math.Exp(Normal(0, 1.0)), 0.05, 200),
                Sources = u < 0.05 ? 2 + _random.Next(3) : 1,
                Edges = _random.NextDouble() < 0.1 ? 2 : 1,
                GapShare = _random.NextDouble() < 0.03 ? 0.02 + 0.06 * _random.NextDouble() : 0.005 * _random.NextDouble(),
                DuplicateShare = _random.NextDouble() < 0.01 ? 0.01 + 0.04 * _random.NextDouble() : 0.002 * _random.NextDouble(),
                Alternating = _random.NextDouble() < 0.03,
            };
        }
    }

    public int Count => _devices.Length;

    /// <summary>
    /// The fleet's next report window: every device's features and z-score, with <paramref name="anomalyShare"/> of the
    /// devices given an anomaly (an equal share of each kind) when it is above 0.
    /// </summary>
    public DeviceWindow[] Next(int window, double anomalyShare)
    {
        var result = new DeviceWindow[_devices.Length];
        InjectedAnomaly[] kinds = [InjectedAnomaly.Cloned, InjectedAnomaly.Flood, InjectedAnomaly.Silent, InjectedAnomaly.GapStorm];
        for (int i = 0; i < _devices.Length; i++)
        {
            Device d = _devices[i];
            InjectedAnomaly injected = _random.NextDouble() < anomalyShare ? kinds[_random.Next(kinds.Length)] : InjectedAnomaly.None;
            double rate = d.Alternating && window % 2 == 1 ? d.Rate * 0.1 : d.Rate;
            int sources = d.Sources, edges = d.Edges;
            double gapShare = d.GapShare;
            switch (injected)
            {
                case InjectedAnomaly.Cloned:
                    sources += 4 + _random.Next(27);
                    edges += 1 + _random.Next(3);
                    rate *= 2 + _random.NextDouble();
                    break;
                case InjectedAnomaly.Flood:
                    rate *= 8 + 42 * _random.NextDouble();
                    break;
                case InjectedAnomaly.Silent:
                    rate *= 0.05 * _random.NextDouble();
                    break;
                case InjectedAnomaly.GapStorm:
                    gapShare = 0.2 + 0.4 * _random.NextDouble();
                    rate *= 1 - gapShare;
                    break;
            }

            double packets = Poisson(rate * WindowSeconds);
            double gaps = Poisson(packets * gapShare / Math.Max(1 - gapShare, 0.01));
            double duplicates = Poisson(packets * d.DuplicateShare);
            double observed = packets / WindowSeconds;
            double usual = d.Mean;
            double z = d.Observe(observed);
            var profile = new DeviceProfile(observed, sources, packets + gaps > 0 ? gaps / (packets + gaps) : 0,
                packets > 0 ? duplicates / packets : 0, d.Spread, edges, usual);
            result[i] = new DeviceWindow(profile, z, injected);
        }

        return result;
    }

    private double Normal(double mean, double sd)
    {
        double u1 = 1 - _random.NextDouble(), u2 = _random.NextDouble();
        return mean + sd * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private double Poisson(double lambda)
    {
        if (lambda <= 0)
        {
            return 0;
        }

        if (lambda > 30)
        {
            return Math.Max(0, Math.Round(Normal(lambda, Math.Sqrt(lambda))));
        }

        double limit = Math.Exp(-lambda), p = 1;
        int k = 0;
        do
        {
            k++;
            p *= _random.NextDouble();
        }
        while (p > limit);
        return k - 1;
    }

    private sealed class Device
    {
        public double Rate { get; init; }

        public int Sources { get; init; }

        public int Edges { get; init; }

        public double GapShare { get; init; }

        public double DuplicateShare { get; init; }

        public bool Alternating { get; init; }

        public double Mean { get; private set; }

        public double Variance { get; private set; }

        public int Reports { get; private set; }

        public double Spread => Mean > 0 ? Math.Sqrt(Variance) / Mean : 0;

        /// <summary>The z-score of <paramref name="rate"/> against the history before it, then the EWMA update (as DeviceDecisions).</summary>
        public double Observe(double rate)
        {
            double std = Math.Max(Math.Sqrt(Variance), Math.Sqrt(Math.Max(Mean, 1) / WindowSeconds));
            double z = Reports > MinReportsForScore ? (rate - Mean) / std : 0;
            Reports++;
            if (Reports == 1)
            {
                Mean = rate;
                Variance = 0;
            }
            else
            {
                double diff = rate - Mean;
                double increment = EwmaAlpha * diff;
                Mean += increment;
                Variance = (1 - EwmaAlpha) * (Variance + diff * increment);
            }

            return z;
        }
    }
}
