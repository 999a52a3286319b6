using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Swarm;

/// <summary>
/// SwarmGrain("fleet") on Orleans: silos' aggregates arrive every interval (and keep it active); a grain timer runs
/// <see cref="SwarmController.Step"/> with the node index's edges and writes the controllers' state. The timer
/// interleaves with calls: silos' contributions never wait for a step's store write. The burst model is the silo's
/// (<see cref="BurstModelService"/>, one session per silo), not the activation's.
/// </summary>
internal sealed class SwarmGrain(
    [PersistentState("swarm", StorageNames.Grains)] IPersistentState<SwarmState> stored,
    GrainServices services,
    BurstModelService model) : Grain, ISwarmGrain
{
    private DurableState<SwarmState> Durable => field ??= new(stored, services.Writes, this);
    private SwarmController _controller = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _controller = new SwarmController(Durable.State, model, services.Controller);
        TimeSpan interval = services.Controller.Interval;
        this.RegisterGrainTimer(Step, new GrainTimerCreationOptions(interval, interval) { Interleave = true });
        return Task.CompletedTask;
    }

    public Task Contribute(SiloAggregate aggregate)
    {
        _controller.Contribute(aggregate);
        return Task.CompletedTask;
    }

    public Task<FleetSnapshot> Describe() => Task.FromResult(_controller.View ?? new FleetSnapshot { OwnerSilo = services.SiloId });

    public Task<TrendsSnapshot> Trends(int windowSeconds, int horizonSeconds) => Task.FromResult(_controller.Trends(services.Time.GetUtcNow(),
        services.SiloId, Math.Clamp(windowSeconds, 2, RateHistory.MaxSeconds), Math.Clamp(horizonSeconds, 0, 86_400)));

    private async Task Step()
    {
        IReadOnlyList<NodeSnapshot> nodes = await GrainFactory.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List();
        IReadOnlyList<AnomalyEntry> anomalies = await GrainFactory.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet).List();
        GrainTurn turn = services.NewTurn();
        if (_controller.Step(nodes, anomalies.Count(a => a.Blocked), anomalies.Count(a => !a.Blocked), turn))
        {
            Durable.Changed();
            await Durable.TryWriteAsync();
            await turn.SendAsync(GrainFactory);
        }
    }
}
