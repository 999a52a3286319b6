using System.Globalization;
using System.Text;
using Klais.Contracts.Configuration;
using Klais.Contracts.Proto;
using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Devices;
using Klais.Edge.Kafka;
using Klais.Edge.Tests.Dam;
using Klais.Edge.Tests.EndToEnd;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Configuration;

/// <summary>Each bound is defined once: the env loader, <c>POST /config</c>, <c>PUT /limits</c>, the Dam and the control applier agree.</summary>
[Trait("Category", "Unit")]
public sealed class BoundsTests
{
    /// <summary>The env loader's problems with one setting (null: it loads).</summary>
    private static string? EnvProblem(string name, string value)
    {
        var env = new Dictionary<string, string> { ["KLAIS_KAFKA_BOOTSTRAP"] = "unused:9092", [name] = value };
        EdgeConfigResult result = EdgeConfigLoader.Load([], n => env.GetValueOrDefault(n));
        return result.Errors.SingleOrDefault(e => e.Contains(name, StringComparison.Ordinal));
    }

    private static string? ApiProblem(string field, string value)
    {
        ConfigChange.Parse(Encoding.UTF8.GetBytes($"{{\"{field}\": {value}}}"), out string? error);
        return error;
    }

    /// <summary>The rule both state, the part after "is &lt;value&gt;. ".</summary>
    private static string Rule(string problem) => problem[(problem.IndexOf(". It must", StringComparison.Ordinal) + 2)..].TrimEnd('.');

    [Theory]
    [InlineData("KLAIS_DAM_MAX_RATE", "new_rate")]
    [InlineData("KLAIS_DAM_BURST_SIZE", "burst_size")]
    public void The_env_loader_and_the_config_api_refuse_the_same_value_past_the_bound_with_the_same_rule(string env, string field)
    {
        PolicySetting setting = PolicySettings.All.Single(s => s.Setting.EnvName == env);
        string bound = setting.Max.ToString(CultureInfo.InvariantCulture);
        string past = (setting.Max + 1).ToString(CultureInfo.InvariantCulture);

        Assert.Null(EnvProblem(env, bound));
        Assert.Null(ApiProblem(field, bound));

        string envProblem = EnvProblem(env, past) ?? throw new Xunit.Sdk.XunitException($"{env}={past} loaded");
        string apiProblem = ApiProblem(field, past) ?? throw new Xunit.Sdk.XunitException($"{field} {past} was taken");
        Assert.Contains(past, envProblem, StringComparison.Ordinal);
        Assert.StartsWith($"{field} is {past}. ", apiProblem, StringComparison.Ordinal);
        Assert.Equal(Rule(envProblem), Rule(apiProblem));
        Assert.EndsWith(bound, Rule(apiProblem), StringComparison.Ordinal);
    }

    [Fact]
    public void The_dam_takes_twice_the_highest_configured_rate_from_the_controller_and_no_more()
    {
        Assert.Equal(2e8, DamOptions.MaxRateLimit);
        Assert.Empty(DamOptions.ValidateRate(2 * PolicySettings.DamMaxRate.Max, (long)PolicySettings.DamBurstSize.Max));
        Assert.Equal(2, DamOptions.ValidateRate(2 * PolicySettings.DamMaxRate.Max + 1, (long)PolicySettings.DamBurstSize.Max + 1).Count());

        var clock = new ManualTimeProvider();
        using var dam = new Klais.Edge.Dam.Dam(DamTesting.Options(rate: 1000, burst: 500), new RecordingSink(), clock);
        ControlApplier applier = Applier(dam, clock, new DevicePolicy(clock));
        Apply(applier, ControlKey.Rate("edge-test"), 1, u => u.GlobalRate = new RateLimit { RatePerSecond = DamOptions.MaxRateLimit });
        Assert.Equal(DamOptions.MaxRateLimit, dam.CurrentRate);
        Apply(applier, ControlKey.Rate("edge-test"), 2, u => u.GlobalRate = new RateLimit { RatePerSecond = DamOptions.MaxRateLimit + 1 });
        Assert.Equal(DamOptions.MaxRateLimit, dam.CurrentRate);
        Assert.Equal(1, applier.Ignored);
    }

    [Fact]
    public void Linger_past_the_bound_is_refused_by_the_env_loader_the_producer_options_and_the_control_applier()
    {
        string past = (KafkaProducerOptions.MaxLingerMs + 1).ToString(CultureInfo.InvariantCulture);
        Assert.Null(EnvProblem("KLAIS_KAFKA_LINGER_MS", KafkaProducerOptions.MaxLingerMs.ToString(CultureInfo.InvariantCulture)));
        Assert.EndsWith($"from 0 to {KafkaProducerOptions.MaxLingerMs}.", EnvProblem("KLAIS_KAFKA_LINGER_MS", past));
        var options = new KafkaProducerOptions { BootstrapServers = "unused:9092", NodeId = "e", LingerMs = KafkaProducerOptions.MaxLingerMs + 1, MessageTimeoutMs = 120_000 };
        Assert.Contains(options.Validate(), p => p.Contains("LingerMs", StringComparison.Ordinal) && p.Contains(past, StringComparison.Ordinal));

        var clock = new ManualTimeProvider();
        using var dam = new Klais.Edge.Dam.Dam(DamTesting.Options(rate: 1000, burst: 500), new RecordingSink(), clock);
        var advice = new List<int>();
        var applier = new ControlApplier(EdgeHarness.Config("unused:9092", "t"), dam, new DevicePolicy(clock), clock, NullLogger.Instance, advice.Add);
        Apply(applier, ControlKey.Burst, 1, u => u.Burst = new BurstAdvice { Level = 3, LingerMs = KafkaProducerOptions.MaxLingerMs });
        Apply(applier, ControlKey.Burst, 2, u => u.Burst = new BurstAdvice { Level = 3, LingerMs = KafkaProducerOptions.MaxLingerMs + 1 });
        Assert.Equal([KafkaProducerOptions.MaxLingerMs], advice);
    }

    [Fact]
    public void A_device_limit_past_the_bound_is_refused_by_the_limits_api_and_the_control_applier()
    {
        Assert.NotNull(LimitRequest.Parse(Encoding.UTF8.GetBytes($"{{\"rate\": {DevicePolicy.MaxLimitRate}, \"burst\": {DevicePolicy.MaxLimitBurst}}}"), out _));
        Assert.Null(LimitRequest.Parse(Encoding.UTF8.GetBytes($"{{\"rate\": {DevicePolicy.MaxLimitRate + 1}, \"burst\": 1}}"), out string? rateError));
        Assert.Contains($"from 1 to {DevicePolicy.MaxLimitRate}", rateError, StringComparison.Ordinal);

        var clock = new ManualTimeProvider();
        var devices = new DevicePolicy(clock);
        using var dam = new Klais.Edge.Dam.Dam(DamTesting.Options(rate: 1000, burst: 500), new RecordingSink(), clock);
        ControlApplier applier = Applier(dam, clock, devices);
        Apply(applier, ControlKey.DeviceLimit("a"), 1, u => u.DeviceLimit = new DeviceLimit { DeviceId = "a", RatePerSecond = DevicePolicy.MaxLimitRate, Burst = DevicePolicy.MaxLimitBurst });
        Apply(applier, ControlKey.DeviceLimit("b"), 2, u => u.DeviceLimit = new DeviceLimit { DeviceId = "b", RatePerSecond = DevicePolicy.MaxLimitRate + 1, Burst = 1 });
        Apply(applier, ControlKey.DeviceLimit("c"), 3, u => u.DeviceLimit = new DeviceLimit { DeviceId = "c", RatePerSecond = 1, Burst = DevicePolicy.MaxLimitBurst + 1 });
        Assert.Equal(["a"], devices.ListLimits().Select(l => l.DeviceId));
        Assert.Equal(2, applier.Ignored);
    }

    private static ControlApplier Applier(Klais.Edge.Dam.Dam dam, TimeProvider clock, DevicePolicy devices) =>
        new(EdgeHarness.Config("unused:9092", "t"), dam, devices, clock, NullLogger.Instance);

    private static void Apply(ControlApplier applier, string key, long version, Action<ControlUpdate> body)
    {
        var update = new ControlUpdate { SchemaVersion = Schema.Current, Version = version, Target = key[..key.IndexOf('/', StringComparison.Ordinal)] };
        body(update);
        applier.Apply(new ControlEvent(key, update, 0, version));
    }
}
