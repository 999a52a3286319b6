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
/// advice (with the fleet's burst model: an error there is DEGRADED_ML) → the state <c>/stats</c> and the node report show; a fleet policy (<c>&lt;node&gt;/policy</c>, or
/// <c>*/policy</c> when this edge has no record of its own) → every setting it names, or none of them: a policy the
/// edge cannot apply is reported as rejected (<see cref="RejectedPolicyVersion"/>) and the one in force stays.
/// Idempotent: the last record per key wins, so replaying the topic from the beginning rebuilds the same state.
/// Called on the follower's thread only; readers on other threads see the fields through volatile reads.
/// </summary>
internal sealed partial class ControlApplier(EdgeConfig config, Dam.Dam dam, DevicePolicy devices, TimeProvider time, ILogger log, Action<int>? adviseLinger = null,
    Action<EdgePolicy>? retune = null)
{
    private long _appliedVersion;
    private EdgePolicy _policy = EdgePolicy.Configured(config);
    private PolicyVersion? _ownPolicy;
    private PolicyVersion? _fleetPolicy;
    private long _rejectedPolicyVersion;
    private string _policyRejection = "";
    private long _applied;
    private long _ignored;
    private double _burstProbability = double.NaN;
    private int _burstLevel;
    private double _pidOutput = double.NaN;
    private int _lingerMs;
    private BurstModelState? _model;

    /// <summary>The highest <see cref="ControlUpdate.Version"/> applied.</summary>
    public long AppliedVersion => Volatile.Read(ref _appliedVersion);

    /// <summary>The fleet policy in force (version 0: the configured settings).</summary>
    public EdgePolicy Policy => Volatile.Read(ref _policy);

    /// <summary>The version of the policy in force; it goes down when a rollout is rolled back.</summary>
    public long PolicyVersion => Policy.Version;

    /// <summary>The newest policy version refused (0: none), and every setting it could not take.</summary>
    public long RejectedPolicyVersion => Volatile.Read(ref _rejectedPolicyVersion);

    public string PolicyRejection => Volatile.Read(ref _policyRejection);

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
            ControlUpdate.BodyOneofCase.Policy => ApplyPolicy(e.Key, update.Policy),
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
        long burst = rate.BurstSize > 0 ? rate.BurstSize : Policy.DamBurstSize;
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

        long burst = (long)Math.Max(1, Math.Ceiling(Math.Min(limit.Burst, DevicePolicy.MaxLimitBurst + 1)));
        if (limit.RatePerSecond > DevicePolicy.MaxLimitRate || burst > DevicePolicy.MaxLimitBurst)
        {
            return false; // the bounds PUT /limits enforces
        }

        devices.SetLimit(limit.DeviceId, limit.RatePerSecond, burst);
        return true;
    }

    private bool ApplyBurst(BurstAdvice burst)
    {
        if (burst.LingerMs is < 0 or > Kafka.KafkaProducerOptions.MaxLingerMs) // the bound of KLAIS_KAFKA_LINGER_MS
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
                dam.Reconfigure(Policy.DamMaxRate, Policy.DamBurstSize);
                dam.Rescale(1);
                Volatile.Write(ref _pidOutput, double.NaN);
                break;
            case [string target, "policy"]:
                if (target == "*")
                {
                    _fleetPolicy = null;
                }
                else
                {
                    _ownPolicy = null;
                }

                InForce(_ownPolicy ?? _fleetPolicy, out _);
                break;
        }
    }

    /// <summary>
    /// Takes a policy record into its slot (this edge's own, or the fleet's) and puts the policy the slots now select
    /// in force: all of it, or, when any setting cannot be applied, none of it (the slots stay as they were).
    /// </summary>
    private bool ApplyPolicy(string key, PolicyVersion policy)
    {
        bool fleet = key.StartsWith("*/", StringComparison.Ordinal);
        PolicyVersion? selected = fleet ? _ownPolicy ?? policy : policy;
        if (!InForce(selected, out IReadOnlyList<string> problems))
        {
            Volatile.Write(ref _policyRejection, string.Join(" ", problems));
            Volatile.Write(ref _rejectedPolicyVersion, policy.Version);
            LogPolicyRejected(log, policy.Version, string.Join(" ", problems));
            return false;
        }

        if (fleet)
        {
            _fleetPolicy = policy;
        }
        else
        {
            _ownPolicy = policy;
        }

        return true;
    }

    /// <summary>Puts <paramref name="policy"/> in force (null: the configured settings); false and the problems when it cannot be.</summary>
    private bool InForce(PolicyVersion? policy, out IReadOnlyList<string> problems)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        problems = [];
        EdgePolicy? next = policy is null || policy.Version == 0 && policy.Settings.Count == 0
            ? EdgePolicy.Configured(config, now)
            : EdgePolicy.TryRead(policy.Version, policy.Settings, config, now, out problems);
        if (next is null)
        {
            return false;
        }

        EdgePolicy current = Policy;
        if (current.Version == next.Version && current with { AppliedUnixMs = 0 } == next with { AppliedUnixMs = 0 })
        {
            return true; // a replayed record: the same policy is in force already
        }

        if (next.DamMaxRate != current.DamMaxRate || next.DamBurstSize != current.DamBurstSize)
        {
            // The policy's rate becomes the Dam's base; the controller's next rate follows from it (node reports carry it).
            dam.Reconfigure(next.DamMaxRate, next.DamBurstSize);
            Volatile.Write(ref _pidOutput, double.NaN);
        }

        retune?.Invoke(next);
        Volatile.Write(ref _policy, next);
        LogPolicyApplied(log, next.Version, string.Join(", ", next.Settings().Select(s => s.Name + "=" + s.Value)));
        return true;
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

    [LoggerMessage(EventId = Hosting.EventIds.PolicyApplied, Level = LogLevel.Information, Message = "Fleet policy version {Version} in force: {Settings}")]
    private static partial void LogPolicyApplied(ILogger logger, long version, string settings);

    [LoggerMessage(EventId = Hosting.EventIds.PolicyRejected, Level = LogLevel.Warning, Message = "Fleet policy version {Version} rejected, nothing of it applied: {Problems}")]
    private static partial void LogPolicyRejected(ILogger logger, long version, string problems);

    [LoggerMessage(EventId = Hosting.EventIds.ControlIgnored, Level = LogLevel.Warning, Message = "klais.control: {Key} ({Body}) could not be applied and is ignored")]
    private static partial void LogIgnored(ILogger logger, string key, string body);
}
