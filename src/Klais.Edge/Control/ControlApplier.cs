using Klais.Contracts.Proto;
using Klais.Edge.Configuration;
using Klais.Edge.Devices;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Control;

/// <summary>
/// Applies klais.control to this edge: a rate for this node (or all) → <see cref="Dam.Dam.Reconfigure"/>, and its queue
/// scale → <see cref="Dam.Dam.Rescale"/>; block, unblock and device limits → <see cref="DevicePolicy"/> (source
/// <see cref="BlockSource.ControlPlane"/>; it mirrors into the XDP maps by itself); burst advice → its linger to
/// <paramref name="adviseLinger"/> (the producer's hold, <see cref="Kafka.TelemetryProducer.AdviseLinger"/>); burst
/// advice (with the fleet's burst model: an error there is DEGRADED_ML) and policy versions → the state <c>/stats</c> and the node report show.
/// Idempotent: the last record per key wins, so replaying the topic from the beginning rebuilds the same state.
/// Called on the follower's thread only; readers on other threads see the fields through volatile reads.
/// </summary>
internal sealed partial class ControlApplier(EdgeConfig config, Dam.Dam dam, DevicePolicy devices, TimeProvider time, ILogger log, Action<int>? adviseLinger = null)
{
    /// <summary>Longest linger advice applied; the same bound as <c>KLAIS_KAFKA_LINGER_MS</c>.</summary>
    internal const int MaxLingerMs = 60_000;

    private long _appliedVersion;
    private long _policyVersion;
    private long _applied;
    private long _ignored;
    private double _burstProbability = double.NaN;
    private int _burstLevel;
    private double _pidOutput = double.NaN;
    private int _lingerMs;
    private BurstModelState? _model;

    /// <summary>The highest <see cref="ControlUpdate.Version"/> applied.</summary>
    public long AppliedVersion => Volatile.Read(ref _appliedVersion);

    public long PolicyVersion => Volatile.Read(ref _policyVersion);

    /// <summary>Updates and removals applied.</summary>
    public long Applied => Volatile.Read(ref _applied);

    /// <summary>Updates that could not be applied (bad device id or rate); logged.</summary>
    public long Ignored => Volatile.Read(ref _ignored);

    /// <summary>The fleet's burst probability from the last advice; NaN before any.</summary>
    public double BurstProbability => Volatile.Read(ref _burstProbability);

    public int BurstLevel => Volatile.Read(ref _burstLevel);

    /// <summary>Linger the last burst advice asked for, in ms; 0: none (the configured linger).</summary>
    public int LingerMs => Volatile.Read(ref _lingerMs);

    /// <summary>The fleet's burst predictor as of the last advice (kind, version, error); null before any.</summary>
    public BurstModelState? BurstModel => Volatile.Read(ref _model);

    /// <summary>Why the fleet's burst model is unavailable (the heuristic in force): DEGRADED_ML while not null.</summary>
    public string? BurstModelError => BurstModel is { Error.Length: > 0 } m ? m.Error : null;

    /// <summary>The controller output behind the rate in force; NaN while the configured rate is in force.</summary>
    public double PidOutput => Volatile.Read(ref _pidOutput);

    public void Apply(ControlEvent e)
    {
        if (e.Update is not { } update)
        {
            Remove(e.Key);
            Interlocked.Increment(ref _applied);
            return;
        }

        bool applied = update.BodyCase switch
        {
            ControlUpdate.BodyOneofCase.GlobalRate => ApplyRate(update.GlobalRate),
            ControlUpdate.BodyOneofCase.Block => ApplyBlock(update.Block),
            ControlUpdate.BodyOneofCase.Unblock => Valid(update.Unblock.DeviceId) && Unblock(update.Unblock.DeviceId),
            ControlUpdate.BodyOneofCase.DeviceLimit => ApplyLimit(update.DeviceLimit),
            ControlUpdate.BodyOneofCase.Policy => Raise(ref _policyVersion, update.Policy.Version),
            ControlUpdate.BodyOneofCase.Burst => ApplyBurst(update.Burst),
            _ => false,
        };
        if (!applied)
        {
            Interlocked.Increment(ref _ignored);
            LogIgnored(log, e.Key, update.BodyCase.ToString());
            return;
        }

        Raise(ref _appliedVersion, update.Version);
        Interlocked.Increment(ref _applied);
    }

    private bool ApplyRate(RateLimit rate)
    {
        long burst = rate.BurstSize > 0 ? rate.BurstSize : config.DamBurstSize;
        double scale = rate.QueueScale == 0 ? 1 : rate.QueueScale;   // proto3: 0 is "unset"
        if (!double.IsFinite(rate.RatePerSecond) || rate.RatePerSecond <= 0 || Dam.DamOptions.ValidateRate(rate.RatePerSecond, burst).Any()
            || Dam.DamOptions.ValidateQueueScale(scale).Any())
        {
            return false;
        }

        dam.Reconfigure(rate.RatePerSecond, burst);
        dam.Rescale(scale);
        Volatile.Write(ref _pidOutput, rate.PidOutput);
        return true;
    }

    private bool ApplyBlock(Block block)
    {
        if (!Valid(block.DeviceId))
        {
            return false;
        }

        TimeSpan? ttl = null;
        if (block.ExpiresUnixMs > 0)
        {
            ttl = DateTimeOffset.FromUnixTimeMilliseconds(block.ExpiresUnixMs) - time.GetUtcNow();
        }
        else if (block.TtlSeconds > 0)
        {
            ttl = TimeSpan.FromSeconds(block.TtlSeconds);
        }

        if (ttl is { Ticks: <= 0 })
        {
            // Expired while the edge was away (replay): nothing to enforce.
            devices.Unblock(block.DeviceId);
            return true;
        }

        devices.Block(block.DeviceId, ttl, block.Reason.Length == 0 ? "control plane" : block.Reason, BlockSource.ControlPlane);
        return true;
    }

    private bool Unblock(string deviceId)
    {
        devices.Unblock(deviceId);
        return true;
    }

    private bool ApplyLimit(DeviceLimit limit)
    {
        if (!Valid(limit.DeviceId) || !double.IsFinite(limit.RatePerSecond))
        {
            return false;
        }

        if (limit.RatePerSecond <= 0)
        {
            devices.RemoveLimit(limit.DeviceId);
            return true;
        }

        devices.SetLimit(limit.DeviceId, limit.RatePerSecond, (long)Math.Max(1, Math.Ceiling(limit.Burst)));
        return true;
    }

    private bool ApplyBurst(BurstAdvice burst)
    {
        if (burst.LingerMs is < 0 or > MaxLingerMs)
        {
            return false;
        }

        adviseLinger?.Invoke(burst.LingerMs);
        Volatile.Write(ref _lingerMs, burst.LingerMs);
        Volatile.Write(ref _burstProbability, burst.Probability);
        Volatile.Write(ref _burstLevel, burst.Level);
        if (burst.Model is not null)
        {
            Volatile.Write(ref _model, burst.Model); // silos older than the model send none: the last news stands
        }

        return true;
    }

    /// <summary>A tombstone: the key's item is gone (compaction kept only the removal).</summary>
    private void Remove(string key)
    {
        string[] parts = key.Split('/', 3);
        switch (parts)
        {
            case [_, "block", string id] when Valid(id):
                devices.Unblock(id);
                break;
            case [_, "limit", string id] when Valid(id):
                devices.RemoveLimit(id);
                break;
            case [_, "burst"]:
                adviseLinger?.Invoke(0);
                Volatile.Write(ref _lingerMs, 0);
                Volatile.Write(ref _model, null);
                break;
            case [_, "rate"]:
                dam.Reconfigure(config.DamMaxRate, config.DamBurstSize);
                dam.Rescale(1);
                Volatile.Write(ref _pidOutput, double.NaN);
                break;
        }
    }

    private static bool Valid(string deviceId) => DevicePolicy.ValidateDeviceId(deviceId) is null;

    private static bool Raise(ref long field, long value)
    {
        long current;
        while (value > (current = Volatile.Read(ref field)) && Interlocked.CompareExchange(ref field, value, current) != current)
        {
        }

        return true;
    }

    [LoggerMessage(EventId = Hosting.EventIds.ControlIgnored, Level = LogLevel.Warning, Message = "klais.control: {Key} ({Body}) could not be applied and is ignored")]
    private static partial void LogIgnored(ILogger logger, string key, string body);
}
