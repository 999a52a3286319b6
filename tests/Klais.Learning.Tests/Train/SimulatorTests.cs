using Klais.Train.Simulation;
using Klais.Train.Traces;

namespace Klais.Learning.Tests.Train;

[Trait("Category", "Unit")]
public sealed class SimulatorTests
{
    [Fact]
    public void The_same_seed_gives_the_same_trace_and_another_seed_another()
    {
        var simulator = new FleetSimulator(new SimulatorOptions());
        (FleetTrace a, List<SimulatedEvent> eventsA) = simulator.Simulate("a", 5, 1200);
        (FleetTrace b, List<SimulatedEvent> eventsB) = simulator.Simulate("b", 5, 1200);
        (FleetTrace c, _) = simulator.Simulate("c", 6, 1200);

        Assert.Equal(a.Samples, b.Samples);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(eventsA, eventsB);
        Assert.NotEqual(a.Samples, c.Samples);
    }

    [Fact]
    public void Reconnect_storms_are_labelled_bursts_over_the_horizon_before_they_flush()
    {
        var simulator = new FleetSimulator(new SimulatorOptions { OutageEverySeconds = 400, FlashCrowdEverySeconds = 0, RampEverySeconds = 0, BlipEverySeconds = 0 });
        int storms = 0, bursts = 0;
        for (int seed = 0; seed < 5; seed++)
        {
            (FleetTrace trace, List<SimulatedEvent> events) = simulator.Simulate("storms", seed, 3600);
            List<int> onsets = BurstLabels.Onsets(trace.Samples);
            foreach (SimulatedEvent storm in events.Where(e => e.Kind == "outage" && e.End + BurstLabels.HorizonSeconds < trace.Samples.Length))
            {
                storms++;
                int onset = onsets.FirstOrDefault(s => s > storm.Start && s <= storm.End + BurstLabels.HorizonSeconds);
                if (onset == 0)
                {
                    continue; // a small share of devices with a short history: no burst
                }

                bursts++;
                // The H seconds before the burst are the ones a predictor should raise the alarm in.
                Assert.All(Enumerable.Range(onset - BurstLabels.HorizonSeconds, BurstLabels.HorizonSeconds), t => Assert.Equal(1, trace.Labels[t]));
            }
        }

        Assert.True(storms >= 10 && bursts >= 0.7 * storms, $"{bursts} bursts from {storms} storms");
    }

    [Fact]
    public void Noise_and_slow_ramps_alone_give_no_burst()
    {
        var simulator = new FleetSimulator(new SimulatorOptions { OutageEverySeconds = 0, FlashCrowdEverySeconds = 0, RampEverySeconds = 600 });
        for (int seed = 0; seed < 3; seed++)
        {
            (FleetTrace trace, _) = simulator.Simulate("calm", seed, 3600);
            Assert.DoesNotContain((sbyte)1, trace.Labels);
        }
    }

    [Fact]
    public void A_trace_survives_a_round_trip_through_csv()
    {
        (FleetTrace trace, _) = new FleetSimulator(new SimulatorOptions()).Simulate("round", 9, 600);
        string path = Path.Combine(Path.GetTempPath(), $"klais-trace-{Guid.NewGuid():N}.csv");
        try
        {
            TraceCsv.Write(path, trace);
            FleetTrace read = TraceCsv.Read(path);
            Assert.Equal(trace.Labels, read.Labels);
            Assert.Equal(trace.Samples.Length, read.Samples.Length);
            for (int t = 0; t < trace.Samples.Length; t++)
            {
                Assert.Equal(trace.Samples[t].UnixSeconds, read.Samples[t].UnixSeconds);
                Assert.Equal(trace.Samples[t].PacketsPerSecond, read.Samples[t].PacketsPerSecond, 0.001);
                Assert.Equal(trace.Samples[t].Cpu, read.Samples[t].Cpu, 0.0001);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
