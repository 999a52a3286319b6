using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains.Turns;

namespace Klais.Grains.Swarm;

/// <summary>
/// The swarm grain's decisions, as a plain class over its stored <see cref="SwarmState"/>: each control step adds up
/// the silos' latest aggregates, tracks the fleet rate with Holt's trend, turns it into a burst probability and a
/// response level, runs one PID controller per reporting edge and emits the resulting rates. The trend and the
/// controllers' state are stored; the aggregates are transient (every silo sends one per interval).
/// </summary>
internal sealed class SwarmController(SwarmState state)
{
    private readonly Dictionary<string, SiloAggregate> _silos = new(StringComparer.Ordinal);

    public SwarmState State { get; } = state;

    /// <summary>The view at the last step, for the API.</summary>
    public FleetSnapshot? View { get; private set; }

    /// <summary>Keeps the newest aggregate of each silo.</summary>
    public void Contribute(SiloAggregate aggregate)
    {
        if (!_silos.TryGetValue(aggregate.SiloId, out SiloAggregate? held) || held.AtUnixMs <= aggregate.AtUnixMs)
        {
            _silos[aggregate.SiloId] = aggregate;
        }
    }

    /// <summary>One control step; false when the interval has not passed since the last one.</summary>
    public bool Step(IReadOnlyList<NodeSnapshot> nodes, int blockedDevices, int anomalousDevices, IDecisionContext context)
    {
        ControllerOptions o = context.Controller;
        long now = context.Now.ToUnixTimeMilliseconds();
        if (State.Steps > 0 && now - State.LastStepUnixMs < o.Interval.TotalMilliseconds * 0.9)
        {
            return false;
        }

        double dt = State.Steps > 0 ? (now - State.LastStepUnixMs) / 1000.0 : o.Interval.TotalSeconds;
        long freshAfter = now - 3 * (long)o.Interval.TotalMilliseconds;
        var fresh = _silos.Values.Where(a => a.AtUnixMs >= freshAfter).ToList();
        double fleetRate = fresh.Sum(a => a.PacketsPerSecond);
        (State.Level, State.Trend) = BurstForecast.Holt(State.Level, State.Trend, fleetRate, State.Steps == 0, o);
        State.BurstProbability = BurstForecast.Probability(State.Level, State.Trend, o);
        BurstResponse response = BurstResponse.For(State.BurstProbability);
        bool levelChanged = response.Level != State.BurstLevel;
        if (levelChanged)
        {
            context.Record(response.Alert ? "alert" : "burst", "swarm/fleet", string.Create(CultureInfo.InvariantCulture,
                $"burst probability {State.BurstProbability:0.00}: level {State.BurstLevel} -> {response.Level}"));
            State.BurstLevel = response.Level;
            context.EmitControl(ControlPlaneTopics.AllEdges, ControlKey.Burst, new ControlUpdate
            {
                Burst = new BurstAdvice { Probability = State.BurstProbability, Level = response.Level, LingerMs = response.LingerMs },
            });
        }

        var controlled = new List<ControlledNode>();
        foreach (NodeSnapshot node in nodes)
        {
            long lastReport = node.LastReport.ToUnixTimeMilliseconds();
            bool stale = now - lastReport > o.NodeStaleAfter.TotalMilliseconds || node.BaseRate <= 0;
            PidState pid = Controller(node.NodeId);
            if (!stale)
            {
                double output = PidController.Step(pid, node.KafkaLag, node.Cpu, dt, o);
                double rate = node.BaseRate * (1 + output) * response.RateFactor;
                if (pid.LastRate <= 0 || Math.Abs(rate - pid.LastRate) / pid.LastRate > 0.01 || levelChanged)
                {
                    pid.LastRate = rate;
                    context.EmitControl(node.NodeId, ControlKey.Rate(node.NodeId), new ControlUpdate
                    {
                        GlobalRate = new RateLimit { RatePerSecond = rate, QueueScale = response.QueueScale, PidOutput = output },
                    });
                }
            }

            controlled.Add(new ControlledNode(node.NodeId, node.ReceivedPerSecond, node.KafkaLag, node.Cpu, node.BaseRate, pid.LastOutput, pid.LastRate, stale));
        }

        State.LastStepUnixMs = now;
        State.Steps++;
        View = new FleetSnapshot
        {
            OwnerSilo = context.SiloId,
            At = context.Now,
            SilosReporting = fresh.Count,
            PacketsPerSecond = fleetRate,
            BytesPerSecond = fresh.Sum(a => a.BytesPerSecond),
            ActiveDevices = fresh.Sum(a => a.ActiveDevices),
            NewDevicesPerSecond = fresh.Sum(a => a.NewDevicesPerSecond),
            BlockedDevices = blockedDevices,
            AnomalousDevices = anomalousDevices,
            Level = State.Level,
            Trend = State.Trend,
            Forecast = State.Level + o.ForecastSteps * State.Trend,
            BurstProbability = State.BurstProbability,
            BurstLevel = State.BurstLevel,
            Nodes = controlled,
        };
        return true;
    }

    private PidState Controller(string nodeId)
    {
        foreach (PidState c in State.Controllers)
        {
            if (c.NodeId == nodeId)
            {
                return c;
            }
        }

        var created = new PidState { NodeId = nodeId };
        State.Controllers.Add(created);
        return created;
    }
}
