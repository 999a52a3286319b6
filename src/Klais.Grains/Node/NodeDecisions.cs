using Klais.Contracts.Proto;
using Klais.Grains.Turns;

namespace Klais.Grains.Node;

/// <summary>What a node grain keeps of an edge: its latest report, and a degradation change recorded as an event.</summary>
internal sealed class NodeDecisions(NodeState state)
{
    public NodeState State { get; } = state;

    public string Id => State.Last.NodeId;

    /// <summary>Takes a report; false for a replay (its source sent that sequence already).</summary>
    public bool Apply(NodeObservation report, IDecisionContext context)
    {
        if (!Sequences.Accept(State.Sequences, report.SourceId, report.Sequence))
        {
            return false;
        }

        int previousLevel = State.Reports == 0 ? 0 : State.Last.DegradationLevel;
        State.Last = new NodeReport
        {
            NodeId = Id,
            ReceivedPerSecond = report.ReceivedPerSecond,
            PassedPerSecond = report.PassedPerSecond,
            DroppedPerSecond = report.DroppedPerSecond,
            KafkaLag = report.KafkaLag,
            Cpu = report.Cpu,
            DegradationLevel = report.DegradationLevel,
            BaseRate = report.BaseRate,
            CurrentRate = report.CurrentRate,
            AppliedControlVersion = report.AppliedControlVersion,
            AppliedPolicyVersion = report.AppliedPolicyVersion,
            ActiveDevices = report.ActiveDevices,
            RejectedPolicyVersion = report.RejectedPolicyVersion,
            PolicyRejection = report.PolicyRejection,
        };
        State.LastReportUnixMs = context.Now.ToUnixTimeMilliseconds();
        State.Reports++;
        if (State.Last.DegradationLevel != previousLevel)
        {
            context.Record("degradation", "node/" + Id, $"level {previousLevel} -> {State.Last.DegradationLevel}");
        }

        return true;
    }

    /// <summary>"stale" when it has not reported within <paramref name="staleAfter"/>, else by degradation level.</summary>
    public static string Health(long lastReportUnixMs, int degradationLevel, DateTimeOffset now, TimeSpan staleAfter) =>
        now.ToUnixTimeMilliseconds() - lastReportUnixMs > staleAfter.TotalMilliseconds ? "stale"
        : degradationLevel switch { 0 => "ok", 3 => "critical", _ => "degraded" };

    public NodeSnapshot ToSnapshot(string siloId, DateTimeOffset now, TimeSpan staleAfter)
    {
        NodeReport r = State.Last;
        return new NodeSnapshot
        {
            NodeId = Id,
            OwnerSilo = siloId,
            Health = Health(State.LastReportUnixMs, r.DegradationLevel, now, staleAfter),
            LastReport = DateTimeOffset.FromUnixTimeMilliseconds(State.LastReportUnixMs),
            Reports = State.Reports,
            ReceivedPerSecond = r.ReceivedPerSecond,
            PassedPerSecond = r.PassedPerSecond,
            DroppedPerSecond = r.DroppedPerSecond,
            KafkaLag = r.KafkaLag,
            Cpu = r.Cpu,
            DegradationLevel = r.DegradationLevel,
            BaseRate = r.BaseRate,
            CurrentRate = r.CurrentRate,
            AppliedControlVersion = r.AppliedControlVersion,
            AppliedPolicyVersion = r.AppliedPolicyVersion,
            ActiveDevices = r.ActiveDevices,
            RejectedPolicyVersion = r.RejectedPolicyVersion,
            PolicyRejection = r.PolicyRejection,
        };
    }
}
