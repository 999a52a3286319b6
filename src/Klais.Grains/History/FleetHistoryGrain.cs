using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;
using Microsoft.Extensions.Logging;

namespace Klais.Grains.History;

/// <summary>
/// Samples the swarm grain's fleet rate and the node index's edges every second into a <see cref="FleetHistoryRing"/>,
/// on a timer that interleaves (a slow swarm or store never holds a reader). The ring is written every
/// <see cref="WriteEvery"/>: a crash loses at most that much history. A reminder brings the grain back after its silo fails.
/// It also merges the silos' lists of their busiest devices (<see cref="BusiestDevices"/>), in memory: they are current figures.
/// </summary>
internal sealed partial class FleetHistoryGrain(
    [PersistentState("fleet-history", StorageNames.Grains)] IPersistentState<FleetHistoryState> stored,
    GrainServices services,
    ILogger<FleetHistoryGrain> logger) : Grain, IFleetHistoryGrain, IRemindable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan WriteEvery = TimeSpan.FromSeconds(10);
    private const string KeepSampling = "keep-sampling";

    private DurableState<FleetHistoryState> Durable => field ??= new(stored, services.Writes, this);
    private FleetHistoryRing Ring => field ??= new(Durable.State);
    private readonly BusiestDevices _talkers = new();
    private bool _sampling;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(Sample, new GrainTimerCreationOptions(Interval, Interval) { Interleave = true, KeepAlive = true });
        this.RegisterGrainTimer(() => Durable.TryWriteAsync(), new GrainTimerCreationOptions(WriteEvery, WriteEvery) { Interleave = true });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Durable.TryWriteAsync();

    public async Task Start()
    {
        if (await this.GetReminder(KeepSampling) is null)
        {
            await this.RegisterOrUpdateReminder(KeepSampling, services.ReminderPeriod, services.ReminderPeriod);
        }
    }

    // The reminder only has to activate the grain; its timers do the sampling.
    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    public Task<IReadOnlyList<FleetHistorySample>> List(DateTimeOffset? since) => Task.FromResult(Ring.After(since));

    public Task ContributeTalkers(string siloId, DateTimeOffset at, IReadOnlyList<DeviceRate> busiest)
    {
        _talkers.Contribute(siloId, at, busiest);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DeviceRate>> TopTalkers() => Task.FromResult(_talkers.Top(services.Time.GetUtcNow()));

    private async Task Sample()
    {
        if (_sampling)
        {
            return;
        }

        _sampling = true;
        try
        {
            FleetSnapshot fleet = await GrainFactory.GetGrain<ISwarmGrain>(GrainKeys.Fleet).Describe();
            IReadOnlyList<NodeSnapshot> nodes = await GrainFactory.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List();
            var sample = new FleetHistorySample(services.Time.GetUtcNow(), fleet.PacketsPerSecond, fleet.BytesPerSecond, fleet.ActiveDevices, fleet.BlockedDevices,
                nodes.Select(n => new NodeRate(n.NodeId, n.Health == "stale" ? 0 : n.ReceivedPerSecond, n.Health == "stale" ? 0 : n.PassedPerSecond)).ToList());
            if (Ring.Add(sample))
            {
                Durable.Changed();
            }
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            LogSampleFailed(logger, ex);
        }
        finally
        {
            _sampling = false;
        }
    }

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "Fleet history: a sample could not be taken")]
    private static partial void LogSampleFailed(ILogger logger, Exception ex);
}
