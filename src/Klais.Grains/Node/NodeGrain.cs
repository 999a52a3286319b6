using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Node;

/// <summary>NodeGrain(node id) on Orleans: stores the edge's latest report and keeps the node index current.</summary>
internal sealed class NodeGrain(
    [PersistentState("node", StorageNames.Grains)] IPersistentState<NodeState> stored,
    GrainServices services) : Grain, INodeGrain
{
    private DurableState<NodeState> Durable => field ??= new(stored, services.Writes, this);
    private NodeDecisions _decisions = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Durable.State.Last ??= new NodeReport();
        Durable.State.Last.NodeId = this.GetPrimaryKeyString();
        _decisions = new NodeDecisions(Durable.State);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Durable.TryWriteAsync();

    public async Task<ApplyResult> Apply(NodeObservation report)
    {
        GrainTurn turn = services.NewTurn();
        bool applied = _decisions.Apply(report, turn);
        if (applied)
        {
            Durable.Changed();
            await GrainFactory.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).Update(Snapshot(turn.Now));
        }

        bool durable = await Durable.TryWriteAsync(probe: false);
        if (turn.HasOutput)
        {
            await turn.SendAsync(GrainFactory);
        }

        return new ApplyResult(applied ? 1 : 0, durable);
    }

    public Task<bool> Flush() => Durable.TryWriteAsync();

    public Task<NodeSnapshot?> Describe() =>
        Task.FromResult(Durable.State.Reports > 0 ? Snapshot(services.Time.GetUtcNow()) : null);

    private NodeSnapshot Snapshot(DateTimeOffset now) => _decisions.ToSnapshot(services.SiloId, now, services.Controller.NodeStaleAfter);
}
