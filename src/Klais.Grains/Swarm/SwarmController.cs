using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains.Turns;
using Klais.Learning.Burst;

namespace Klais.Grains.Swarm;

/// <summary>
/// The swarm grain's decisions, as a plain class over its stored <see cref="SwarmState"/>: each control step adds up
/// the silos' latest aggregates, turns the fleet's last minute into a burst probability (the silo's ONNX model, or
/// Holt's trend while the model is unavailable or gathers its first minute) and a response level, runs one PID
/// controller per reporting edge and emits the resulting rates. The trend and the controllers' state are stored; the
/// aggregates and the model's one-second history are transient (every silo sends an aggregate per interval; a new
/// activation predicts with the heuristic for its first minute).
/// </summary>
internal sealed class SwarmController
{
    private readonly Dictionary<string, SiloAggregate> _silos = new(StringComparer.Ordinal);
    private readonly BurstModelService _model;
    private readonly HoltBurstHeuristic _heuristic;
    private readonly FleetHistory _history = new();
    private readonly RateHistory _rates = new();
    private readonly float[] _features = new float[BurstFeatures.Count]; // one row, reused every second
    private FleetSample _lastSample;
    private long _lastSampleSecond = long.MinValue;
    private double _modelProbability = double.NaN;
    private BurstModelView? _advertised;

    public SwarmController(SwarmState state, BurstModelService model, ControllerOptions options)
    {
        State = state;
        _model = model;
        _heuristic = new HoltBurstHeuristic
        {
            Alpha = options.HoltAlpha, Beta = options.HoltBeta, Steps = options.ForecastSteps,
            Midpoint = options.BurstGrowthMidpoint, Spread = options.BurstGrowthSpread,
        };
        if (state.Steps > 0)
        {
            _heuristic.Resume(state.Level, state.Trend);
        }
    }

    public SwarmState State { get; }

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
        double heuristic = _heuristic.Update(fleetRate);
        (State.Level, State.Trend) = (_heuristic.Level, _heuristic.Trend);
        (State.BurstProbability, BurstModelView model) = Predict(now, fresh, nodes, fleetRate, heuristic, o);
        // KLAIS_BURST_ADVICE=off: the probability is computed and shown, but the fleet is not steered by it.
        BurstResponse response = BurstResponse.For(o.BurstAdvice ? State.BurstProbability : 0);
        bool levelChanged = response.Level != State.BurstLevel;
        bool modelChanged = _advertised is null || (_advertised.Kind, _advertised.Version, _advertised.Error) != (model.Kind, model.Version, model.Error);
        if (levelChanged)
        {
            context.Record(response.Alert ? "alert" : "burst", "swarm/fleet", string.Create(CultureInfo.InvariantCulture,
                $"burst probability {State.BurstProbability:0.00} ({model.Kind}): level {State.BurstLevel} -> {response.Level}"));
            State.BurstLevel = response.Level;
        }

        if (modelChanged)
        {
            context.Record(model.Degraded ? "degraded" : "model", "swarm/fleet", Describe(model));
            _advertised = model;
        }

        if (levelChanged || modelChanged)
        {
            context.EmitControl(ControlPlaneTopics.AllEdges, ControlKey.Burst, new ControlUpdate
            {
                Burst = new BurstAdvice
                {
                    Probability = State.BurstProbability, Level = response.Level, LingerMs = response.LingerMs,
                    Model = new BurstModelState { Kind = model.Kind, Version = model.Version ?? "", Error = model.Error ?? "" },
                },
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
            BurstAdvice = o.BurstAdvice,
            Nodes = controlled,
            Model = model,
        };
        return true;
    }

    /// <summary>
    /// The burst probability and what produced it. The model sees one sample a second (what it was trained on): the
    /// first step in a new second adds it to the history (repeating the last one for seconds without a step) and asks
    /// the model; later steps in the same second keep that answer. The heuristic answers while the model is missing,
    /// failing, or has less than a full window of history.
    /// </summary>
    private (double Probability, BurstModelView Model) Predict(
        long nowMs, List<SiloAggregate> fresh, IReadOnlyList<NodeSnapshot> nodes, double fleetRate, double heuristic, ControllerOptions o)
    {
        long second = nowMs / 1000;
        if (second > _lastSampleSecond)
        {
            if (_lastSampleSecond != long.MinValue)
            {
                long missed = Math.Min(second - _lastSampleSecond - 1, BurstFeatures.WindowSeconds);
                for (long i = 1; i <= missed; i++)
                {
                    _history.Add(_lastSample with { UnixSeconds = _lastSampleSecond + i });
                }
            }

            (double lag, double cpu, int edges) = (0, 0, 0);
            foreach (NodeSnapshot node in nodes)
            {
                if (nowMs - node.LastReport.ToUnixTimeMilliseconds() <= o.NodeStaleAfter.TotalMilliseconds)
                {
                    (lag, cpu, edges) = (lag + node.KafkaLag, cpu + node.Cpu, edges + 1);
                }
            }

            _rates.Add(second, fleetRate, nodes, nowMs - (long)o.NodeStaleAfter.TotalMilliseconds);

            (double reconnects, double devices) = (0, 0);
            foreach (SiloAggregate a in fresh)
            {
                (reconnects, devices) = (reconnects + a.NewDevicesPerSecond, devices + a.ActiveDevices);
            }

            _lastSample = new FleetSample(second, fleetRate, reconnects, devices, lag, edges == 0 ? 0 : cpu / edges);
            _lastSampleSecond = second;
            _history.Add(_lastSample);
            _modelProbability = _history.TryWriteFeatures(_features) && _model.TryPredict(_features, out float p) ? p : double.NaN;
        }

        BurstModelView status = _model.Status;
        if (status.Degraded)
        {
            return (heuristic, status);
        }

        return double.IsNaN(_modelProbability)
            ? (heuristic, status with { Kind = BurstModelView.Heuristic, WarmUpSeconds = BurstFeatures.WindowSeconds - _history.Count })
            : (_modelProbability, status);
    }

    /// <summary>The fleet's and the edges' rate trends as of <paramref name="now"/> (docs/learning.md, "Trends").</summary>
    public TrendsSnapshot Trends(DateTimeOffset now, string siloId, int windowSeconds, int horizonSeconds)
    {
        (TrendView? fleet, List<TrendView> nodes) = _rates.Trends(now.ToUnixTimeSeconds(), windowSeconds, horizonSeconds);
        return new TrendsSnapshot { OwnerSilo = siloId, At = now, WindowSeconds = windowSeconds, HorizonSeconds = horizonSeconds, Fleet = fleet, Nodes = nodes };
    }

    private static string Describe(BurstModelView model) => model switch
    {
        { Error: { } error } => "burst model unavailable, Holt heuristic in force (DEGRADED_ML): " + error,
        { Kind: BurstModelView.Onnx } => $"burst model {model.Version} in force ({model.Path})",
        _ => string.Create(CultureInfo.InvariantCulture,
            $"burst model {model.Version} loaded; Holt heuristic in force for {model.WarmUpSeconds} s while the model gathers a full window of fleet history"),
    };

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
