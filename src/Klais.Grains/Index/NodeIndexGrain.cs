using Klais.Contracts.Proto;
using Klais.Grains.Node;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>
/// The edges' listing. Node grains send their summary with every report; only the set of node ids is stored (it
/// changes when an edge appears), so after a failover an edge that stopped reporting is still listed, as stale,
/// from its node grain.
/// </summary>
internal sealed class NodeIndexGrain(
    [PersistentState("node-index", StorageNames.Grains)] IPersistentState<NodeIndexState> stored,
    GrainServices services) : Grain, INodeIndexGrain
{
    private readonly DurableState<NodeIndexState> _state = new(stored, services.Writes);
    private readonly Dictionary<string, NodeSnapshot> _latest = new(StringComparer.Ordinal);

    public async Task Update(NodeSnapshot node)
    {
        _latest[node.NodeId] = node;
        if (!_state.State.NodeIds.Contains(node.NodeId))
        {
            _state.State.NodeIds.Add(node.NodeId);
            _state.Changed();
        }

        await _state.TryWriteAsync();
    }

    public async Task<IReadOnlyList<NodeSnapshot>> List()
    {
        foreach (string id in _state.State.NodeIds.Where(id => !_latest.ContainsKey(id)).ToList())
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
