using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;
using Microsoft.Extensions.Logging;
using Orleans.Placement;

namespace Klais.Grains.Device;

/// <summary>
/// DeviceGrain(device id) on Orleans: activation, storage and the block-expiry reminder around
/// <see cref="DeviceDecisions"/>. Placed on the silo that first calls it, which is the silo consuming the
/// klais.reports partition of the device, so ingestion stays local.
/// </summary>
[PreferLocalPlacement]
internal sealed partial class DeviceGrain(
    [PersistentState("device", StorageNames.Grains)] IPersistentState<DeviceState> stored,
    GrainServices services,
    ILogger<DeviceGrain> logger) : Grain, IDeviceGrain, IRemindable
{
    /// <summary>The reminder that lifts a block when its TTL ends, on whichever silo then hosts the device.</summary>
    internal const string ExpiryReminder = "block-expiry";

    private DurableState<DeviceState> Durable => field ??= new(stored, services.Writes, this);
    private DeviceDecisions _decisions = null!;
    private AnomalyEntry? _indexed;
    private long _reminderFor;
    private DateTimeOffset _outlierSent = DateTimeOffset.MinValue;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Durable.State.DeviceId.Length == 0)
        {
            Durable.State.DeviceId = this.GetPrimaryKeyString();
        }

        _decisions = new DeviceDecisions(Durable.State);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (!await Durable.TryWriteAsync())
        {
            LogLostOnDeactivation(logger, Durable.State.DeviceId, reason.Description);
        }
    }

    public async Task<ApplyResult> Apply(IReadOnlyList<DeviceObservation> reports)
    {
        GrainTurn turn = services.NewTurn();
        int applied = 0;
        foreach (DeviceObservation report in reports)
        {
            applied += _decisions.Apply(report, turn) ? 1 : 0;
        }

        if (applied > 0)
        {
            Durable.Changed();
            SendToOutlierModel(turn.Now);
        }

        return new ApplyResult(applied, await EndTurn(turn, probe: false));
    }

    public async Task Vote(string voter, string reason, double score)
    {
        GrainTurn turn = services.NewTurn();
        if (_decisions.Vote(voter, reason, score, turn))
        {
            Durable.Changed();
            await EndTurn(turn);
        }
    }

    /// <summary>The device's vector to its outlier shard, at most every <see cref="ConsensusOptions.OutlierInterval"/> (one-way).</summary>
    private void SendToOutlierModel(DateTimeOffset now)
    {
        if (services.Consensus.OutlierThreshold <= 0 || _decisions.Profile is not { } profile || now - _outlierSent < services.Consensus.OutlierInterval)
        {
            return;
        }

        _outlierSent = now;
        float[] features = new float[Klais.Learning.Outliers.DeviceFeatures.Count];
        Klais.Learning.Outliers.DeviceFeatures.Write(profile, features);
        string id = Durable.State.DeviceId;
        _ = GrainFactory.GetGrain<IOutlierIndexGrain>(GrainKeys.OutlierShard(id)).Observe(id, features);
    }

    public async Task<bool> Flush() => await EndTurn(null, probe: true);

    public Task<DeviceSnapshot?> Describe() =>
        Task.FromResult(_decisions.Seen ? DeviceSnapshots.From(_decisions, services.SiloId, services.Time.GetUtcNow()) : null);

    public async Task<DeviceSnapshot> Block(int ttlSeconds, string reason)
    {
        GrainTurn turn = services.NewTurn();
        _decisions.BlockByOperator(reason, TimeSpan.FromSeconds(ttlSeconds), turn);
        Durable.Changed();
        await EndTurn(turn);
        return DeviceSnapshots.From(_decisions, services.SiloId, turn.Now);
    }

    public async Task<DeviceSnapshot?> Unblock(string reason)
    {
        if (!_decisions.Seen)
        {
            return null;
        }

        GrainTurn turn = services.NewTurn();
        if (_decisions.UnblockByOperator(reason, turn))
        {
            Durable.Changed();
            await EndTurn(turn);
        }

        return DeviceSnapshots.From(_decisions, services.SiloId, turn.Now);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExpiryReminder)
        {
            return;
        }

        GrainTurn turn = services.NewTurn();
        if (_decisions.Expire(turn))
        {
            Durable.Changed();
        }

        await EndTurn(turn);
    }

    /// <summary>
    /// Ends a turn: the anomaly index learns of a change in listing, the state is written, the reminder follows the
    /// block, and the turn's control updates and events are sent. Control goes out even when the write failed: an
    /// edge should block a flooding device while the store is down; the state follows when the store is back.
    /// </summary>
    private async Task<bool> EndTurn(GrainTurn? turn, bool probe = true)
    {
        await UpdateIndex();
        bool durable = await Durable.TryWriteAsync(probe);
        if (durable)
        {
            await FollowBlockWithReminder();
        }

        if (turn is { HasOutput: true })
        {
            await turn.SendAsync(GrainFactory);
        }

        return durable && _reminderFor == (Durable.State.Block?.ExpiresUnixMs ?? 0);
    }

    private async Task FollowBlockWithReminder()
    {
        long expires = Durable.State.Block?.ExpiresUnixMs ?? 0;
        if (expires == _reminderFor)
        {
            return;
        }

        try
        {
            if (expires > 0)
            {
                TimeSpan due = TimeSpan.FromMilliseconds(Math.Max(1000, expires - services.Time.GetUtcNow().ToUnixTimeMilliseconds()));
                await this.RegisterOrUpdateReminder(ExpiryReminder, due, services.ReminderPeriod);
            }
            else if (await this.GetReminder(ExpiryReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderFor = expires;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            services.Writes.Failure(ex);
            LogReminderFailed(logger, Durable.State.DeviceId, ex);
        }
    }

    private async Task UpdateIndex()
    {
        DeviceState s = Durable.State;
        DateTimeOffset now = services.Time.GetUtcNow();
        bool blocked = _decisions.IsBlocked(now);
        bool listed = blocked || s.Votes.Count > 0 || Math.Abs(s.AnomalyScore) >= services.Consensus.AnomalyZ;
        IAnomalyIndexGrain index = GrainFactory.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet);
        if (!listed)
        {
            if (s.Listed)
            {
                await index.Remove(s.DeviceId);
                s.Listed = false;
                _indexed = null;
                Durable.Changed();
            }

            return;
        }

        var entry = new AnomalyEntry
        {
            DeviceId = s.DeviceId,
            OwnerSilo = services.SiloId,
            AnomalyScore = s.AnomalyScore,
            Votes = s.Votes.Count,
            Blocked = blocked,
            Reason = blocked ? s.Block.Reason : null,
            ExpiresAt = blocked ? DateTimeOffset.FromUnixTimeMilliseconds(s.Block.ExpiresUnixMs) : null,
            UpdatedAt = now,
        };
        if (_indexed is { } last && last.Blocked == entry.Blocked && last.Votes == entry.Votes && last.ExpiresAt == entry.ExpiresAt
            && Math.Abs(last.AnomalyScore - entry.AnomalyScore) < 0.5)
        {
            return;
        }

        await index.Update(entry);
        _indexed = entry;
        if (!s.Listed)
        {
            s.Listed = true;
            Durable.Changed();
        }
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Device {DeviceId}: state changes not written before deactivation ({Reason}); reports behind them stay uncommitted and are applied again")]
    private static partial void LogLostOnDeactivation(ILogger logger, string deviceId, string? reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Device {DeviceId}: block-expiry reminder not updated; retried on the next turn")]
    private static partial void LogReminderFailed(ILogger logger, string deviceId, Exception ex);
}
