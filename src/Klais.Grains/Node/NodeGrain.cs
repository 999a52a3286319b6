using Klais.Contracts.Proto;

namespace Klais.Grains.Node;

/// <summary>NodeGrain(node id): an edge's latest report: rates, Kafka lag, CPU, degradation level, applied versions.</summary>
internal sealed class NodeGrain : IGrain
{
    public NodeGrain(NodeState state) => State = state;

    public static NodeGrain Create(string nodeId) => new(new NodeState { Last = new NodeReport { NodeId = nodeId } });

    public NodeState State { get; }

    public string Id => State.Last.NodeId;

    public void WriteState(GrainStateRecord record) => record.Node = State;

    public bool Handle(ReportEnvelope envelope, IGrainContext context)
    {
        if (envelope.BodyCase != ReportEnvelope.BodyOneofCase.Node || !Sequences.Accept(State.Sequences, envelope.SourceId, envelope.Sequence))
        {
            return false;
        }

        int previousLevel = State.Reports == 0 ? 0 : State.Last.DegradationLevel;
        State.Last = envelope.Node.Clone();
        State.Last.NodeId = Id;
        State.LastReportUnixMs = context.Now.ToUnixTimeMilliseconds();
        State.Reports++;
        if (State.Last.DegradationLevel != previousLevel)
        {
            context.Record("degradation", "node/" + Id, $"level {previousLevel} -> {State.Last.DegradationLevel}");
        }

        return true;
    }

    /// <summary>Healthy when it reported within <paramref name="staleAfter"/> and is not fully degraded.</summary>
    public string Health(DateTimeOffset now, TimeSpan staleAfter) =>
        now.ToUnixTimeMilliseconds() - State.LastReportUnixMs > staleAfter.TotalMilliseconds ? "stale"
        : State.Last.DegradationLevel switch { 0 => "ok", 3 => "critical", _ => "degraded" };

    public NodeLoad ToLoad() => new()
    {
        NodeId = Id,
        ReceivedPerSecond = State.Last.ReceivedPerSecond,
        KafkaLag = State.Last.KafkaLag,
        Cpu = State.Last.Cpu,
        BaseRate = State.Last.BaseRate,
        DegradationLevel = State.Last.DegradationLevel,
        LastReportUnixMs = State.LastReportUnixMs,
    };
}
