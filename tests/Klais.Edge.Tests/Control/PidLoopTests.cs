using Klais.Contracts.Proto;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Tests.Dam;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains;
using Klais.Grains.Swarm;
using Klais.Grains.Tests;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Control;

/// <summary>
/// The PID loop on a manual clock: the edge's node report → the swarm grain's decisions (<see cref="SwarmController"/>:
/// one PID per edge, the burst table) → the RateLimit it emits → the edge's <see cref="ControlApplier"/> → the Dam.
/// Kafka and the silo between them are left out (the control-plane tests cover that path): here 20 s of the loop run
/// in milliseconds and every run steps the same way.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PidLoopTests : IDisposable
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(100);

    private readonly string _dir = Directory.CreateTempSubdirectory("klais-pid-").FullName;

    [Fact]
    public void Rising_kafka_lag_lowers_the_edges_rate_through_the_swarm_pid_and_it_settles_without_oscillating()
    {
        // The plant: Kafka lag that grows with the edge's rate, lag = 10000 + 3 × (rate − 1500), CPU at its target.
        // At the base rate of 2000/s the lag (11500) is above the 10000 target, so the PID must lower the rate.
        var clock = new ManualTimeProvider();
        EdgeConfig config = EdgeHarness.Config("unused:9092", "t", ("KLAIS_NODE_ID", "edge-pid"), ("KLAIS_DAM_MAX_RATE", "2000"), ("KLAIS_DAM_BURST_SIZE", "2000"));
        var dam = new Klais.Edge.Dam.Dam(new DamOptions { MaxRate = 2000, BurstSize = 2000, QueueMaxMessages = 10, QueueMaxBytes = 4096 }, new RecordingSink(), clock);
        var applier = new ControlApplier(config, dam, new DevicePolicy(clock), clock, NullLogger.Instance);
        var context = new FakeDecisionContext(clock) { Controller = new ControllerOptions { Interval = ReportInterval } };
        using var model = new BurstModelService(new BurstModelOptions { Path = Path.Combine(_dir, "absent.onnx") }, clock, NullLogger<BurstModelService>.Instance);
        var swarm = new SwarmController(new SwarmState(), model, context.Controller);

        var rates = new List<double>();
        TimeSpan sinceReport = TimeSpan.Zero;
        while (rates.Count < 200) // 20 s of the loop, sampled every 100 ms
        {
            clock.Advance(Sample);
            sinceReport += Sample;
            if (sinceReport >= ReportInterval)
            {
                sinceReport = TimeSpan.Zero;
                Report(clock, swarm, context, applier, dam);
            }

            rates.Add(dam.CurrentRate);
        }

        int changes = DirectionChanges(rates);
        List<double> last = rates.TakeLast(20).ToList();
        Assert.True(Settled(last), $"the rate did not settle within ±1.5 % over 2 s: {string.Join(' ', last)}");
        Assert.InRange(last.Average(), 1500, 1960); // lowered from 2000, not below the lag's fixed point
        Assert.True(rates.Max() <= 2000, "the rate rose although the lag was above its target");
        Assert.InRange(changes, 0, 3);
        Assert.True(applier.Applied > 0);
        Assert.InRange(applier.PidOutput, -1, -0.02);
        Assert.Equal(dam.CurrentRate, 2000 * (1 + applier.PidOutput), 6); // no burst cut: the fleet rate is flat
    }

    /// <summary>One report interval: the edge reports, the swarm steps, the edge applies what the swarm emitted.</summary>
    private static void Report(ManualTimeProvider clock, SwarmController swarm, FakeDecisionContext context, ControlApplier applier, Klais.Edge.Dam.Dam dam)
    {
        DateTimeOffset now = clock.GetUtcNow();
        swarm.Contribute(new SiloAggregate { SiloId = "s1", AtUnixMs = now.ToUnixTimeMilliseconds(), PacketsPerSecond = 1000, ActiveDevices = 10 });
        var node = new NodeSnapshot
        {
            NodeId = "edge-pid", OwnerSilo = "s1", Health = "ok", LastReport = now,
            KafkaLag = (long)(10_000 + (3 * (dam.CurrentRate - 1500))), Cpu = 0.7, BaseRate = applier.Policy.DamMaxRate,
        };
        int emitted = context.Control.Count;
        Assert.True(swarm.Step([node], blockedDevices: 0, anomalousDevices: 0, context));
        foreach ((string _, string key, ControlUpdate update) in context.Control.Skip(emitted))
        {
            applier.Apply(new ControlEvent(key, update, 0, 0));
        }
    }

    private static int DirectionChanges(List<double> rates)
    {
        int changes = 0;
        int direction = 0;
        for (int i = 1; i < rates.Count; i++)
        {
            int d = Math.Sign(Math.Round(rates[i] - rates[i - 1]));
            if (d != 0 && direction != 0 && d != direction)
            {
                changes++;
            }

            direction = d != 0 ? d : direction;
        }

        return changes;
    }

    private static bool Settled(List<double> window) => window.Max() - window.Min() <= 0.03 * window.Average();

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
