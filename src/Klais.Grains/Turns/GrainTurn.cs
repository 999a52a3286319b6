using Klais.Contracts.Proto;
using Klais.Grains.Control;

namespace Klais.Grains.Turns;

/// <summary>
/// One grain turn's context: the decisions emit control updates and events into it, and the grain sends them once
/// its state is durable (<see cref="SendAsync"/>), so an edge never acts on a decision the fleet could forget.
/// </summary>
internal sealed class GrainTurn(GrainServices services) : IDecisionContext
{
    private List<(string Target, string Key, ControlUpdate Update)>? _control;
    private List<GrainEvent>? _events;

    public DateTimeOffset Now { get; } = services.Time.GetUtcNow();

    public string SiloId => services.SiloId;

    public ConsensusOptions Consensus => services.Consensus;

    public ControllerOptions Controller => services.Controller;

    public bool HasOutput => _control is not null || _events is not null;

    public void EmitControl(string target, string key, ControlUpdate update) => (_control ??= []).Add((target, key, update));

    public void Record(string kind, string grain, string detail) => (_events ??= []).Add(new GrainEvent(Now, SiloId, kind, grain, detail));

    /// <summary>Writes the control updates to klais.control (awaiting Kafka's acknowledgement) and the events to the event log.</summary>
    public async Task SendAsync(IGrainFactory grains)
    {
        if (_control is not null)
        {
            foreach ((string target, string key, ControlUpdate update) in _control)
            {
                await services.Control.PublishAsync(target, key, update);
            }

            _control = null;
        }

        if (_events is not null)
        {
            IEventLogGrain log = grains.GetGrain<IEventLogGrain>(GrainKeys.Fleet);
            foreach (GrainEvent e in _events)
            {
                await log.Record(e);
            }

            _events = null;
        }
    }
}
