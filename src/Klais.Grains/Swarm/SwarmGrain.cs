using System.Globalization;
using Klais.Contracts.Proto;

namespace Klais.Grains.Swarm;

/// <summary>
/// SwarmGrain("fleet"): every control interval merges the latest aggregate of each partition (sent by the silo
/// owning it), tracks the fleet rate with Holt's trend, turns it into a burst probability and a response level,
/// runs one PID controller per reporting edge and writes the resulting rates to klais.control. Aggregates are
/// transient (a new one arrives every interval); the trend and the controllers' state are persisted.
/// </summary>
internal sealed class SwarmGrain : IGrain
{
    private readonly Dictionary<int, (PartitionAggregate Aggregate, long ReceivedUnixMs)> _partitions = [];

    public SwarmGrain(SwarmState state) => State = state;

    public static SwarmGrain Create() => new(new SwarmState());

    public SwarmState State { get; }

    public void WriteState(GrainStateRecord record) => record.Swarm = State;

    /// <summary>The last merged view, for the API.</summary>
    public FleetView View { get; private set; } = FleetView.Empty;

    /// <summary>Stores a partition aggregate; never changes persisted state.</summary>
    public bool Handle(ReportEnvelope envelope, IGrainContext context)
    {
        if (envelope.BodyCase == ReportEnvelope.BodyOneofCase.PartitionAggregate)
        {
            PartitionAggregate a = envelope.PartitionAggregate;
            if (!_partitions.TryGetValue(a.Partition, out var held) || held.Aggregate.Epoch <= a.Epoch)
            {
                _partitions[a.Partition] = (a, context.Now.ToUnixTimeMilliseconds());
            }
        }

        return false;
    }

    /// <summary>One control step when the interval has passed; true when state changed (and must be written).</summary>
    public bool Step(IGrainContext context)
    {
        ControllerOptions o = context.Controller;
        long now = context.Now.ToUnixTimeMilliseconds();
        if (State.Steps > 0 && now - State.LastStepUnixMs < o.Interval.TotalMilliseconds)
        {
            return false;
        }

        double dt = State.Steps > 0 ? (now - State.LastStepUnixMs) / 1000.0 : o.Interval.TotalSeconds;
        long freshAfter = now - 3 * (long)o.Interval.TotalMilliseconds;
        var fresh = _partitions.Values.Where(p => p.ReceivedUnixMs >= freshAfter).Select(p => p.Aggregate).ToList();
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

        var nodes = new List<NodeView>();
        foreach (NodeLoad load in LatestLoads(fresh))
        {
            bool stale = now - load.LastReportUnixMs > o.NodeStaleAfter.TotalMilliseconds || load.BaseRate <= 0;
            PidState pid = Controller(load.NodeId);
            if (!stale)
            {
                double output = PidController.Step(pid, load.KafkaLag, load.Cpu, dt, o);
                double rate = load.BaseRate * (1 + output) * response.RateFactor;
                if (pid.LastRate <= 0 || Math.Abs(rate - pid.LastRate) / pid.LastRate > 0.01 || levelChanged)
                {
                    pid.LastRate = rate;
                    context.EmitControl(load.NodeId, ControlKey.Rate(load.NodeId), new ControlUpdate
                    {
                        GlobalRate = new RateLimit { RatePerSecond = rate, QueueScale = response.QueueScale, PidOutput = output },
                    });
                }
            }

            nodes.Add(new NodeView(load, pid.LastOutput, pid.LastRate, stale));
        }

        State.LastStepUnixMs = now;
        State.Steps++;
        View = new FleetView(now, fresh.Count, fleetRate, fresh.Sum(a => a.BytesPerSecond), fresh.Sum(a => a.ActiveDevices),
            fresh.Sum(a => a.NewDevices) / Math.Max(dt, 1e-3), fresh.Sum(a => a.BlockedDevices), fresh.Sum(a => a.AnomalousDevices),
            State.Level, State.Trend, State.Level + o.ForecastSteps * State.Trend, State.BurstProbability, State.BurstLevel, nodes);
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

    private static IEnumerable<NodeLoad> LatestLoads(List<PartitionAggregate> aggregates) =>
        aggregates.SelectMany(a => a.Nodes).GroupBy(n => n.NodeId, StringComparer.Ordinal)
            .Select(g => g.MaxBy(n => n.LastReportUnixMs)!).OrderBy(n => n.NodeId, StringComparer.Ordinal);
}

/// <summary>One edge in the fleet view: its load and what the controller made of it.</summary>
internal sealed record NodeView(NodeLoad Load, double PidOutput, double Rate, bool Stale);

/// <summary>The fleet as the swarm grain saw it at its last step.</summary>
internal sealed record FleetView(
    long AtUnixMs, int Partitions, double PacketsPerSecond, double BytesPerSecond, int ActiveDevices, double NewDevicesPerSecond,
    int BlockedDevices, int AnomalousDevices, double Level, double Trend, double Forecast, double BurstProbability, int BurstLevel,
    IReadOnlyList<NodeView> Nodes)
{
    public static FleetView Empty { get; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, []);
}
