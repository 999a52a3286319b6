using Klais.Contracts.Proto;
using Klais.Grains.Node;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>
/// The edges' listing. Node grains send their summary with every report; only the set of node ids is stored (it
/// changes when an edge appears, and is written within a second), so after a failover an edge that stopped reporting is still listed, as stale,
/// from its node grain.
/// </summary>
internal sealed class NodeIndexGrain(
    [PersistentState("node-index", StorageNames.Grains)] IPersistentState<NodeIndexState> stored,
    GrainServices services) : Grain, INodeIndexGrain
{
    private DurableState<NodeIndexState> Durable => field ??= new(stored, services.Writes, this);
    private readonly Dictionary<string, NodeSnapshot> _latest = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Written by a timer that interleaves: node grains never wait for the store, however slow or absent it is.
        this.RegisterGrainTimer(() => Durable.TryWriteAsync(), new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { Interleave = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Durable.TryWriteAsync();

    public Task Update(NodeSnapshot node)
    {
        _latest[node.NodeId] = node;
        if (!Durable.State.NodeIds.Contains(node.NodeId))
        {
            Durable.State.NodeIds.Add(node.NodeId);
            Durable.Changed();
        }

        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<NodeSnapshot>> List()
    {
        foreach (string id in Durable.State.NodeIds.Where(id => !_latest.ContainsKey(id)).ToList())
        {
            if (await GrainFactory.GetGrain<INodeGrain>(id).Describe() is { } node)
            {
                _latest[id] = node;
            }
        }

        DateTimeOffset now = services.Time.GetUtcNow();
        return _latest.Values
            .Select(n => n with { Health = NodeDecisions.Health(n.LastReport.ToUnixTimeMilliseconds(), n.DegradationLevel, now, services.Controller.NodeStaleAfter) })
            .OrderBy(n => n.NodeId, StringComparer.Ordinal).ToList();
    }
}
