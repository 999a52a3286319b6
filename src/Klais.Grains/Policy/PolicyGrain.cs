using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Swarm;
using Klais.Grains.Turns;

namespace Klais.Grains.Policy;

/// <summary>
/// PolicyGrain("fleet") on Orleans: activation, storage, the tick timer and the reminder around
/// <see cref="PolicyRollout"/>. While a rollout moves (or a rollback is unconfirmed) a grain timer ticks every
/// <see cref="TickPeriod"/>, and a reminder is registered: when the silo hosting the grain dies, the reminder
/// activates it on a survivor, which reads the stored state, sends again what the edges may have missed, and goes on
/// from the same stage. Every change is written before the control records it emits are sent.
/// </summary>
internal sealed class PolicyGrain(
    [PersistentState("policy", StorageNames.Grains)] IPersistentState<PolicyFleetState> stored,
    GrainServices services,
    BurstModelService models) : Grain, IPolicyGrain, IRemindable
{
    /// <summary>The reminder that brings a rollout back after a failover.</summary>
    internal const string RolloutReminder = "policy-rollout";

    /// <summary>How often a moving rollout looks at the edges' reports (they report every second by default).</summary>
    public static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);

    private DurableState<PolicyFleetState> Durable => field ??= new(stored, services.Writes, this);
    private PolicyRollout _rollout = null!;
    private IGrainTimer? _timer;
    private bool _reminded;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _rollout = new PolicyRollout(Durable.State);
        if (_rollout.Busy)
        {
            GrainTurn turn = services.NewTurn();
            _rollout.Republish(turn);
            await FollowBusy();
            await turn.SendAsync(GrainFactory);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await Durable.TryWriteAsync();

    public Task<PolicyResult> Create(PolicyDraft draft) => Run(turn => Task.FromResult(_rollout.Create(draft, turn, ModelProblem)));

    public Task<PolicyResult> Rollout(long version, RolloutRequest plan) => Run(async turn =>
        _rollout.Start(version, plan, await GrainFactory.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List(), turn));

    public Task<PolicyResult> Pause(long version) => Run(turn => Task.FromResult(_rollout.Pause(version, turn)));

    public Task<PolicyResult> ResumeRollout(long version) => Run(turn => Task.FromResult(_rollout.Resume(version, turn)));

    public Task<PolicyResult> Abort(long version) => Run(turn => Task.FromResult(_rollout.Abort(version, turn)));

    public Task<IReadOnlyList<PolicyView>> List() =>
        Task.FromResult<IReadOnlyList<PolicyView>>([.. Durable.State.Policies.OrderByDescending(p => p.Version).Select(p => _rollout.ToView(p, services.SiloId))]);

    public Task<PolicyView?> Describe(long version) =>
        Task.FromResult(_rollout.Find(version) is { } p ? _rollout.ToView(p, services.SiloId) : null);

    public Task<FleetSettingsView> FleetSettings() => Task.FromResult(_rollout.FleetSettings());

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == RolloutReminder)
        {
            _reminded = true;
            await Tick();
        }
    }

    /// <summary>
    /// One operator call: the decision, then the state written, then its control records sent. A state that could not
    /// be written is not acted on: the call fails and the edges hear nothing.
    /// </summary>
    private async Task<PolicyResult> Run(Func<GrainTurn, Task<PolicyResult>> decide)
    {
        GrainTurn turn = services.NewTurn();
        PolicyResult result = await decide(turn);
        if (result.Status == PolicyStatus.Ok)
        {
            Durable.Changed();
            await WriteOrThrow();
            await FollowBusy();
            await turn.SendAsync(GrainFactory);
            result = result with { Policy = _rollout.Find(result.Version) is { } p ? _rollout.ToView(p, services.SiloId) : null };
        }

        return result;
    }

    private async Task Tick()
    {
        IReadOnlyList<NodeSnapshot> nodes = await GrainFactory.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List();
        GrainTurn turn = services.NewTurn();
        if (_rollout.Tick(nodes, turn))
        {
            Durable.Changed();
            if (!await Durable.TryWriteAsync())
            {
                // Nothing is sent for a step the store does not hold: this activation forgets it, and the next one
                // (the reminder, or any call) starts from the stored state and sends what it holds again.
                DeactivateOnIdle();
                return;
            }
        }

        await FollowBusy();
        if (turn.HasOutput)
        {
            await turn.SendAsync(GrainFactory);
        }
    }

    private async Task WriteOrThrow()
    {
        if (!await Durable.TryWriteAsync())
        {
            DeactivateOnIdle(); // the decision is forgotten with this activation; the stored state stays what it was
            throw new InvalidOperationException("The policy state could not be written; nothing was changed on the edges. Retry when the store answers.");
        }
    }

    /// <summary>Null when this silo's model catalogue has <paramref name="version"/>; else what it has.</summary>
    private string? ModelProblem(string version)
    {
        IReadOnlyDictionary<string, string> catalogue = models.Catalogue();
        return catalogue.ContainsKey(version) ? null
            : $"no model in {models.CatalogueFolder} has version {version}; the models there: "
              + (catalogue.Count == 0 ? "none" : string.Join(", ", catalogue.Select(m => $"{m.Key} ({Path.GetFileName(m.Value)})"))) + ".";
    }

    /// <summary>Ticks (timer and reminder) while the rollout is busy; neither once it is not.</summary>
    private async Task FollowBusy()
    {
        if (_rollout.Busy)
        {
            _timer ??= this.RegisterGrainTimer(Tick, new GrainTimerCreationOptions(TickPeriod, TickPeriod) { KeepAlive = true });
            if (!_reminded)
            {
                await this.RegisterOrUpdateReminder(RolloutReminder, services.ReminderPeriod, services.ReminderPeriod);
                _reminded = true;
            }

            return;
        }

        _timer?.Dispose();
        _timer = null;
        if (_reminded)
        {
            if (await this.GetReminder(RolloutReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminded = false;
        }
    }
}
