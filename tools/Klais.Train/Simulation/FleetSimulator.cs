using Klais.Learning.Burst;
using Klais.Train.Traces;

namespace Klais.Train.Simulation;

/// <summary>A disturbance the simulator put into a trace, for tests and for reading a trace.</summary>
internal readonly record struct SimulatedEvent(string Kind, int Start, int End);

/// <summary>
/// Fleet traces from a model of a device fleet, a sample a second (docs/learning.md, "Simulator"). Everything is
/// aggregated (shares of devices, not devices), so an hour simulates in milliseconds. Deterministic: one seed gives
/// the same trace on every machine (<see cref="Random"/> with a seed, no clock, no parallelism).
/// </summary>
internal sealed class FleetSimulator(SimulatorOptions options)
{
    // 2025-01-01T00:00:00Z; traces start on a random day of that year at a random second.
    private const long Epoch = 1_735_689_600;

    public (FleetTrace Trace, List<SimulatedEvent> Events) Simulate(string name, int seed, int seconds)
    {
        var rng = new Random(seed);
        var fleet = new Fleet(seconds, rng);
        var events = new List<SimulatedEvent>();
        Schedule(rng, seconds, options.OutageEverySeconds, events, t => fleet.Outage(t, events));
        Schedule(rng, seconds, options.FlashCrowdEverySeconds, events, t =>
        {
            // Thinning: flash crowds are three times likelier at 20:00 than at 08:00.
            double evening = (1 + Math.Cos(2 * Math.PI * (fleet.SecondOfDay(t) - 72_000) / 86_400)) / 2;
            if (rng.NextDouble() < 0.33 + 0.67 * evening)
            {
                fleet.FlashCrowd(t, events);
            }
        });
        Schedule(rng, seconds, options.RampEverySeconds, events, t => fleet.Ramp(t, events));
        Schedule(rng, seconds, options.BlipEverySeconds, events, t => fleet.Blip(t, events));
        events.Sort((a, b) => a.Start.CompareTo(b.Start));
        return (FleetTrace.Labelled(name, fleet.Run()), events);
    }

    private static void Schedule(Random rng, int seconds, double every, List<SimulatedEvent> events, Action<int> add)
    {
        if (every <= 0)
        {
            return;
        }

        for (double t = Exponential(rng, every); t < seconds; t += Exponential(rng, every))
        {
            add((int)t);
        }
    }

    private static double Exponential(Random rng, double mean) => -mean * Math.Log(1 - rng.NextDouble());

    private static double Uniform(Random rng, double low, double high) => low + (high - low) * rng.NextDouble();

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>The fleet's parameters and, per second, what the scheduled events do to it.</summary>
    private sealed class Fleet
    {
        private readonly int _seconds;
        private readonly Random _rng;
        private readonly long _start;
        private readonly double _devices;
        private readonly double _perDevice;
        private readonly double _diurnal;
        private readonly double _noise;
        private readonly double _churn;
        private readonly double _capacity;

        // Per-second effects of the events, summed or multiplied as they overlap.
        private readonly double[] _disconnected;   // share of the base devices offline
        private readonly double[] _boost;          // rate factor of the connected base devices (flash crowds)
        private readonly double[] _crowdStreaming; // extra devices sending (flash crowds)
        private readonly double[] _crowdConnected; // extra devices connected (they connect before they stream)
        private readonly double[] _drift;          // slow ramps and blips
        private readonly double[] _flush;          // packets/s of buffered history being flushed
        private readonly double[] _reconnects;     // connections beyond the usual churn

        public Fleet(int seconds, Random rng)
        {
            _seconds = seconds;
            _rng = rng;
            _start = Epoch + rng.Next(365) * 86_400L + rng.Next(86_400);
            _devices = Math.Round(Math.Exp(Uniform(rng, Math.Log(2_000), Math.Log(50_000))));
            _perDevice = Uniform(rng, 0.5, 2.0);
            _diurnal = Uniform(rng, 0.2, 0.5);
            _noise = Uniform(rng, 0.02, 0.06);
            _churn = Uniform(rng, 0.0003, 0.0015);
            // Kafka drains this many packets a second: a margin over the day's peak.
            _capacity = Uniform(rng, 1.3, 1.8) * _devices * _perDevice * (1 + _diurnal);
            _disconnected = new double[seconds];
            _boost = Filled(seconds, 1);
            _crowdStreaming = new double[seconds];
            _crowdConnected = new double[seconds];
            _drift = Filled(seconds, 1);
            _flush = new double[seconds];
            _reconnects = new double[seconds];
        }

        public double SecondOfDay(int t) => (_start + t) % 86_400;

        /// <summary>
        /// A share of the devices drops off within seconds, stays away, then reconnects over a few to forty seconds; a
        /// device that buffered (70 % of outages) flushes its history at several times its rate a few seconds after its
        /// session is up (the handshake). So the reconnects lead the flush.
        /// </summary>
        public void Outage(int t0, List<SimulatedEvent> events)
        {
            double share = Uniform(_rng, 0.2, 0.7);
            int down = (int)Uniform(_rng, 20, 240);
            int drop = (int)Uniform(_rng, 1, 5);
            int spread = (int)Uniform(_rng, 5, 40);
            int handshake = (int)Uniform(_rng, 2, 10);
            bool buffered = _rng.NextDouble() < 0.7;
            double flushFactor = Uniform(_rng, 4, 15);
            int back = t0 + down;
            for (int t = t0; t < Math.Min(back + spread, _seconds); t++)
            {
                double offline = t < back ? share * Math.Min(1, (t - t0 + 1) / (double)drop) : share * (1 - (t - back + 1) / (double)spread);
                _disconnected[t] += offline;
            }

            double cohort = share * _devices / spread;
            for (int u = back; u < back + spread; u++)
            {
                Add(_reconnects, u, cohort);
                if (buffered)
                {
                    // The cohort's history: `down` seconds at its usual rate, sent at flushFactor times that rate.
                    double history = cohort * _perDevice * down;
                    int flushSeconds = Math.Max(1, (int)Math.Ceiling(down / flushFactor));
                    for (int f = 0; f < flushSeconds; f++)
                    {
                        Add(_flush, u + handshake + f, history / flushSeconds);
                    }
                }
            }

            events.Add(new(buffered ? "outage" : "outage-unbuffered", t0, back + spread + handshake));
        }

        /// <summary>
        /// The load rises to 1.6-4 times within 15 s to 2 min, holds, and decays: part from existing devices sending
        /// more, part from new devices, which connect a few seconds before they stream.
        /// </summary>
        public void FlashCrowd(int t0, List<SimulatedEvent> events)
        {
            double peak = Uniform(_rng, 1.6, 4.0);
            int rise = (int)Uniform(_rng, 15, 120);
            int hold = (int)Uniform(_rng, 60, 300);
            int decay = (int)Uniform(_rng, 60, 240);
            double newShare = Uniform(_rng, 0.3, 0.8);
            int early = (int)Uniform(_rng, 3, 15);
            double newDevices = newShare * (peak - 1) * _devices;
            for (int t = Math.Max(0, t0 - early); t < Math.Min(t0 + rise + hold + decay, _seconds); t++)
            {
                double streaming = Profile(t - t0, rise, hold, decay);
                double connected = Profile(t - t0 + early, rise, hold, decay);
                double connectedBefore = Profile(t - t0 + early - 1, rise, hold, decay);
                _boost[t] *= 1 + (1 - newShare) * (peak - 1) * streaming;
                _crowdStreaming[t] += newDevices * streaming;
                _crowdConnected[t] += newDevices * connected;
                _reconnects[t] += newDevices * Math.Max(0, connected - connectedBefore);
            }

            events.Add(new("flash-crowd", t0, t0 + rise));
        }

        /// <summary>The load drifts by 20-80 % over 5-20 minutes (up two times in three) and stays there.</summary>
        public void Ramp(int t0, List<SimulatedEvent> events)
        {
            double change = Uniform(_rng, 0.2, 0.8) * (_rng.NextDouble() < 0.67 ? 1 : -0.5);
            int length = (int)Uniform(_rng, 300, 1200);
            for (int t = t0; t < _seconds; t++)
            {
                _drift[t] *= 1 + change * Math.Min(1, (t - t0) / (double)length);
            }

            events.Add(new("ramp", t0, t0 + length));
        }

        /// <summary>A spike of 10-35 % for one to three seconds.</summary>
        public void Blip(int t0, List<SimulatedEvent> events)
        {
            double factor = Uniform(_rng, 1.1, 1.35);
            int length = _rng.Next(1, 4);
            for (int t = t0; t < Math.Min(t0 + length, _seconds); t++)
            {
                _drift[t] *= factor;
            }

            events.Add(new("blip", t0, t0 + length));
        }

        public FleetSample[] Run()
        {
            var samples = new FleetSample[_seconds];
            double lag = 0, wander = 0;
            for (int t = 0; t < _seconds; t++)
            {
                double secondOfDay = SecondOfDay(t);
                double diurnal = 1 + _diurnal * Math.Sin(2 * Math.PI * (secondOfDay - 21_600) / 86_400);
                wander = 0.98 * wander + 0.01 * Gaussian(_rng);
                double online = _devices * (1 - Math.Min(_disconnected[t], 0.95));
                double live = _perDevice * diurnal * _drift[t] * (1 + wander) * (online * _boost[t] + _crowdStreaming[t]);
                double rate = Math.Max(0, (live + _flush[t]) * Math.Exp(_noise * Gaussian(_rng)));
                double usualChurn = _churn * online;
                double reconnects = Math.Max(0, Math.Round(usualChurn + Math.Sqrt(usualChurn) * Gaussian(_rng) + _reconnects[t] * (1 + 0.1 * Gaussian(_rng))));
                lag = Math.Max(0, lag + rate - _capacity * (1 + 0.05 * Gaussian(_rng)));
                double inFlight = rate * 0.05 * (1 + 0.2 * Math.Abs(Gaussian(_rng)));
                double cpu = Math.Clamp(0.08 + 0.75 * rate / _capacity + 0.1 * Math.Min(lag / (10 * _capacity), 1) + 0.02 * Gaussian(_rng), 0, 1);
                samples[t] = new FleetSample(_start + t, rate, reconnects, Math.Round(online + _crowdConnected[t]), Math.Round(lag + inFlight), cpu);
            }

            return samples;
        }

        /// <summary>0 before, smoothstep up over <paramref name="rise"/>, 1 for <paramref name="hold"/>, linear down over <paramref name="decay"/>.</summary>
        private static double Profile(int dt, int rise, int hold, int decay)
        {
            if (dt < 0)
            {
                return 0;
            }

            if (dt < rise)
            {
                double x = (dt + 1) / (double)rise;
                return x * x * (3 - 2 * x);
            }

            return dt < rise + hold ? 1 : Math.Max(0, 1 - (dt - rise - hold + 1) / (double)decay);
        }

        private static double[] Filled(int length, double value)
        {
            var array = new double[length];
            Array.Fill(array, value);
            return array;
        }

        private void Add(double[] array, int t, double value)
        {
            if (t >= 0 && t < _seconds)
            {
                array[t] += value;
            }
        }
    }
}
