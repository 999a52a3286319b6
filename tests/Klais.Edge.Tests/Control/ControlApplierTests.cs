using Klais.Contracts.Proto;
using Klais.Contracts.Wire;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Tests.Dam;
using Klais.Edge.Tests.EndToEnd;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Control;

public sealed class ControlApplierTests : IDisposable
{
    private readonly ManualTimeProvider _clock = new();
    private readonly EdgeConfig _config = EdgeHarness.Config("unused:9092", "t", ("KLAIS_DAM_MAX_RATE", "1000"), ("KLAIS_DAM_BURST_SIZE", "500"));
    private readonly Klais.Edge.Dam.Dam _dam;
    private readonly DevicePolicy _devices;
    private readonly ControlApplier _applier;
    private readonly List<int> _lingerAdvice = [];

    public ControlApplierTests()
    {
        _dam = new Klais.Edge.Dam.Dam(new DamOptions { MaxRate = 1000, BurstSize = 500, QueueMaxMessages = 10, QueueMaxBytes = 4096 }, new RecordingSink(), _clock);
        _devices = new DevicePolicy(_clock);
        _applier = new ControlApplier(_config, _dam, _devices, _clock, NullLogger.Instance, _lingerAdvice.Add);
    }

    private void Apply(string key, long version, Action<ControlUpdate> body)
    {
        var update = new ControlUpdate { SchemaVersion = Schema.Current, Version = version, Target = key[..key.IndexOf('/', StringComparison.Ordinal)] };
        body(update);
        _applier.Apply(new ControlEvent(key, update, 0, version));
    }

    [Fact]
    public void A_rate_update_reconfigures_the_dam_and_its_removal_restores_the_configured_rate()
    {
        Apply(ControlKey.Rate("edge-test"), 7, u => u.GlobalRate = new RateLimit { RatePerSecond = 2500, PidOutput = 0.25 });
        Assert.Equal(2500, _dam.CurrentRate);
        Assert.Equal(500, _dam.CurrentBurst); // no burst in the update: the configured one
        Assert.Equal(0.25, _applier.PidOutput);
        Assert.Equal(7, _applier.AppliedVersion);

        _applier.Apply(new ControlEvent(ControlKey.Rate("edge-test"), null, 0, 8));
        Assert.Equal(1000, _dam.CurrentRate);
        Assert.True(double.IsNaN(_applier.PidOutput));
    }

    [Fact]
    public void Blocks_land_in_the_blocklist_with_their_expiry_and_unblock_or_tombstone_removes_them()
    {
        long now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        Apply(ControlKey.Block("bad-1"), 10, u => u.Block = new Block { DeviceId = "bad-1", TtlSeconds = 600, ExpiresUnixMs = now + 60_000, Reason = "consensus" });
        Apply(ControlKey.Block("bad-2"), 11, u => u.Block = new Block { DeviceId = "bad-2", TtlSeconds = 600, ExpiresUnixMs = now + 120_000, Reason = "operator" });
        Apply(ControlKey.Block("old"), 5, u => u.Block = new Block { DeviceId = "old", ExpiresUnixMs = now - 1, Reason = "expired" });

        BlockEntry entry = _devices.ListBlocked().Single(b => b.DeviceId == "bad-1");
        Assert.Equal(BlockSource.ControlPlane, entry.Source);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(now + 60_000), entry.ExpiresAt);
        Assert.Equal(Rejection.Blocked, _devices.Check(DevicePolicy.KeyOf("bad-1")));
        Assert.Equal(Rejection.None, _devices.Check(DevicePolicy.KeyOf("old")));

        _clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(Rejection.None, _devices.Check(DevicePolicy.KeyOf("bad-1")));

        Apply(ControlKey.Block("bad-2"), 12, u => u.Unblock = new Unblock { DeviceId = "bad-2" });
        Assert.Empty(_devices.ListBlocked());
        Apply(ControlKey.Block("bad-3"), 13, u => u.Block = new Block { DeviceId = "bad-3", TtlSeconds = 60 });
        _applier.Apply(new ControlEvent(ControlKey.Block("bad-3"), null, 0, 14));
        Assert.Empty(_devices.ListBlocked());
        Assert.Equal(13, _applier.AppliedVersion);
    }

    [Fact]
    public void Device_limits_policy_versions_and_burst_advice_are_applied_and_bad_updates_ignored()
    {
        Apply(ControlKey.DeviceLimit("chatty"), 20, u => u.DeviceLimit = new DeviceLimit { DeviceId = "chatty", RatePerSecond = 5, Burst = 2 });
        Assert.Equal(new LimitEntry("chatty", DevicePolicy.KeyOf("chatty"), 5, 2), Assert.Single(_devices.ListLimits()));
        Assert.Equal(Rejection.None, _devices.Check(DevicePolicy.KeyOf("chatty")));
        Assert.Equal(Rejection.None, _devices.Check(DevicePolicy.KeyOf("chatty")));
        Assert.Equal(Rejection.DeviceRateLimited, _devices.Check(DevicePolicy.KeyOf("chatty")));
        _applier.Apply(new ControlEvent(ControlKey.DeviceLimit("chatty"), null, 0, 21));
        Assert.Empty(_devices.ListLimits());

        Apply(ControlKey.Policy, 22, u => u.Policy = new PolicyVersion { Version = 3 });
        Apply(ControlKey.Burst, 23, u => u.Burst = new BurstAdvice { Probability = 0.6, Level = 2 });
        Assert.Equal(3, _applier.PolicyVersion);
        Assert.Equal(0.6, _applier.BurstProbability);
        Assert.Equal(2, _applier.BurstLevel);

        Apply(ControlKey.Block("x"), 30, u => u.Block = new Block { DeviceId = "a-device-id-longer-than-16-bytes" });
        Apply(ControlKey.Rate("edge-test"), 31, u => u.GlobalRate = new RateLimit { RatePerSecond = -1 });
        Assert.Equal(2, _applier.Ignored);
        Assert.Equal(23, _applier.AppliedVersion);
        Assert.Equal(1000, _dam.CurrentRate);
    }

    [Fact]
    public void A_policy_is_applied_whole_and_version_0_returns_the_configured_settings()
    {
        var retuned = new List<EdgePolicy>();
        var applier = new ControlApplier(_config, _dam, _devices, _clock, NullLogger.Instance, retune: retuned.Add);
        Policy(applier, ControlKey.NodePolicy("edge-test"), 50, 4, ("dam_max_rate", "2500"), ("dam_burst_size", "800"), ("suspect_rate", "90"), ("report_interval_ms", "300"));

        Assert.Equal((4L, 2500.0, 800L), (applier.PolicyVersion, _dam.CurrentRate, _dam.CurrentBurst));
        EdgePolicy inForce = Assert.Single(retuned);
        Assert.Equal((90.0, TimeSpan.FromMilliseconds(300), _config.SuspectSources), (inForce.SuspectRate, inForce.ReportInterval, inForce.SuspectSources));
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeMilliseconds(), inForce.AppliedUnixMs);
        Assert.Contains(("dam_max_rate", "2500"), inForce.Settings());

        Policy(applier, ControlKey.NodePolicy("edge-test"), 51, 0);
        Assert.Equal((0L, 1000.0, 500L), (applier.PolicyVersion, _dam.CurrentRate, _dam.CurrentBurst));
        Assert.Equal(TimeSpan.FromMilliseconds(_config.ReportInterval.TotalMilliseconds), applier.Policy.ReportInterval);
        Assert.Equal(0, applier.Ignored);
    }

    [Fact]
    public void A_policy_the_edge_cannot_apply_changes_nothing_and_is_reported_with_every_bad_setting()
    {
        var retuned = new List<EdgePolicy>();
        var applier = new ControlApplier(_config, _dam, _devices, _clock, NullLogger.Instance, retune: retuned.Add);
        Policy(applier, ControlKey.NodePolicy("edge-test"), 60, 2, ("dam_max_rate", "3000"));
        Policy(applier, ControlKey.NodePolicy("edge-test"), 61, 3, ("dam_max_rate", "4000"), ("suspect_sources", "1"), ("heavy_hitter_share", "2"));

        Assert.Equal((2L, 3000.0), (applier.PolicyVersion, _dam.CurrentRate)); // the good setting of version 3 was not applied either
        Assert.Single(retuned);
        Assert.Equal(3, applier.RejectedPolicyVersion);
        Assert.Contains("(settings.suspect_sources)", applier.PolicyRejection, StringComparison.Ordinal);
        Assert.Contains("(settings.heavy_hitter_share)", applier.PolicyRejection, StringComparison.Ordinal);
        Assert.Equal(1, applier.Ignored);
        Assert.Equal(60, applier.AppliedVersion);

        Policy(applier, ControlKey.NodePolicy("edge-test"), 62, 4, ("colour", "red"));
        Assert.Equal((2L, 4L), (applier.PolicyVersion, applier.RejectedPolicyVersion));
    }

    [Fact]
    public void The_edges_own_policy_record_wins_over_the_fleets_and_its_removal_falls_back_to_it()
    {
        Policy(_applier, ControlKey.Policy, 70, 5, ("dam_max_rate", "1500"));
        Assert.Equal((5L, 1500.0), (_applier.PolicyVersion, _dam.CurrentRate));
        Policy(_applier, ControlKey.NodePolicy("edge-test"), 71, 6, ("dam_max_rate", "1600"));
        Policy(_applier, ControlKey.Policy, 72, 7, ("dam_max_rate", "1700"));
        Assert.Equal((6L, 1600.0), (_applier.PolicyVersion, _dam.CurrentRate));

        _applier.Apply(new ControlEvent(ControlKey.NodePolicy("edge-test"), null, 0, 73));
        Assert.Equal((7L, 1700.0), (_applier.PolicyVersion, _dam.CurrentRate));

        // The controller's rate without a burst of its own takes the policy's bucket, and its removal the policy's rate.
        Policy(_applier, ControlKey.Policy, 74, 8, ("dam_max_rate", "1800"), ("dam_burst_size", "900"));
        Apply(ControlKey.Rate("edge-test"), 75, u => u.GlobalRate = new RateLimit { RatePerSecond = 2500 });
        Assert.Equal((2500.0, 900L), (_dam.CurrentRate, _dam.CurrentBurst));
        _applier.Apply(new ControlEvent(ControlKey.Rate("edge-test"), null, 0, 76));
        Assert.Equal((1800.0, 900L), (_dam.CurrentRate, _dam.CurrentBurst));
    }

    private static void Policy(ControlApplier applier, string key, long updateVersion, long version, params (string Name, string Value)[] settings)
    {
        var policy = new PolicyVersion { Version = version };
        foreach ((string name, string value) in settings)
        {
            policy.Settings[name] = value;
        }

        applier.Apply(new ControlEvent(key, new ControlUpdate
        {
            SchemaVersion = Schema.Current, Version = updateVersion, Target = key[..key.IndexOf('/', StringComparison.Ordinal)], Policy = policy,
        }, 0, updateVersion));
    }

    [Fact]
    public void Queue_scale_widens_the_dam_queue_and_the_rate_tombstone_restores_the_configured_bound()
    {
        Apply(ControlKey.Rate("edge-test"), 40, u => u.GlobalRate = new RateLimit { RatePerSecond = 500, QueueScale = 2 });
        Assert.Equal((20, 8192, 2.0), (_dam.QueueMaxMessages, _dam.QueueMaxBytes, _dam.QueueScale));

        Apply(ControlKey.Rate("edge-test"), 41, u => u.GlobalRate = new RateLimit { RatePerSecond = 600, QueueScale = 0.5 });
        Assert.Equal((5, 2048, 0.5), (_dam.QueueMaxMessages, _dam.QueueMaxBytes, _dam.QueueScale));

        Apply(ControlKey.Rate("edge-test"), 42, u => u.GlobalRate = new RateLimit { RatePerSecond = 700 });
        Assert.Equal((10, 4096, 1.0), (_dam.QueueMaxMessages, _dam.QueueMaxBytes, _dam.QueueScale)); // 0 = unset = 1

        Apply(ControlKey.Rate("edge-test"), 43, u => u.GlobalRate = new RateLimit { RatePerSecond = 800, QueueScale = 2 });
        _applier.Apply(new ControlEvent(ControlKey.Rate("edge-test"), null, 0, 44));
        Assert.Equal((10, 4096, 1.0), (_dam.QueueMaxMessages, _dam.QueueMaxBytes, _dam.QueueScale));
        Assert.Equal(1000, _dam.CurrentRate);
        Assert.Equal(0, _applier.Ignored);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1)]
    [InlineData(0.1)]
    [InlineData(3)]
    [InlineData(double.PositiveInfinity)]
    public void A_rate_with_a_queue_scale_out_of_range_is_ignored_whole(double scale)
    {
        Apply(ControlKey.Rate("edge-test"), 50, u => u.GlobalRate = new RateLimit { RatePerSecond = 2500, QueueScale = scale });

        Assert.Equal(1, _applier.Ignored);
        Assert.Equal(0, _applier.Applied);
        Assert.Equal(1000, _dam.CurrentRate);
        Assert.Equal((10, 1.0), (_dam.QueueMaxMessages, _dam.QueueScale));
    }

    [Fact]
    public void Burst_advice_passes_its_linger_on_bad_lingers_are_ignored_and_the_tombstone_clears_it()
    {
        Apply(ControlKey.Burst, 60, u => u.Burst = new BurstAdvice { Probability = 0.4, Level = 1, LingerMs = 20 });
        Assert.Equal(20, _applier.LingerMs);
        Apply(ControlKey.Burst, 61, u => u.Burst = new BurstAdvice { Probability = 0.1, Level = 0 });
        Assert.Equal(0, _applier.LingerMs);
        Apply(ControlKey.Burst, 62, u => u.Burst = new BurstAdvice { Probability = 0.9, Level = 3, LingerMs = 50 });
        Apply(ControlKey.Burst, 63, u => u.Burst = new BurstAdvice { Probability = 0.9, Level = 3, LingerMs = -5 });
        Apply(ControlKey.Burst, 64, u => u.Burst = new BurstAdvice { Probability = 0.9, Level = 3, LingerMs = Klais.Edge.Kafka.KafkaProducerOptions.MaxLingerMs + 1 });
        Assert.Equal(2, _applier.Ignored);
        Assert.Equal(50, _applier.LingerMs);

        _applier.Apply(new ControlEvent(ControlKey.Burst, null, 0, 65));
        Assert.Equal(0, _applier.LingerMs);
        Assert.Equal([20, 0, 50, 0], _lingerAdvice);
    }

    public void Dispose() => _dam.Dispose();
}
