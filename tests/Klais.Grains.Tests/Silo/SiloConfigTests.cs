using Microsoft.Extensions.Logging;
using Klais.Silo.Api;
using Klais.Silo.Configuration;

namespace Klais.Grains.Tests.Silo;

public sealed class SiloConfigTests
{
    private static SiloConfigResult Load(Dictionary<string, string> env, params string[] args) =>
        SiloConfigLoader.Load(args, name => env.GetValueOrDefault(name));

    [Theory]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("information", LogLevel.Information)]
    [InlineData("Information", LogLevel.Information)]
    [InlineData("debug", LogLevel.Debug)]
    public void Log_level_takes_the_short_names_and_those_of_Microsoft_Extensions_Logging(string name, LogLevel expected)
    {
        SiloConfigResult result = Load(new() { ["KLAIS_LOG_LEVEL"] = name });

        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Config!.LogLevel);
    }

    [Fact]
    public void Defaults_are_valid()
    {
        SiloConfig config = Load([]).Config!;
        Assert.Null(config.KafkaBootstrap);
        Assert.Equal("127.0.0.1:8081", config.ApiBind.ToString());
        Assert.Null(config.Redis);
        Assert.True(config.DevelopmentMode);
        Assert.Equal(("klais", "klais", 11111, 30000), (config.ClusterId, config.ServiceId, config.SiloPort, config.GatewayPort));
        Assert.Equal(2, config.Consensus.Quorum);
        Assert.Equal(TimeSpan.FromSeconds(30), config.Consensus.VoteWindow);
        Assert.Equal(TimeSpan.FromMinutes(10), config.Consensus.BlockTtl);
        Assert.Equal(TimeSpan.FromSeconds(6), config.Ingestion.SessionTimeout);
        Assert.Equal((TimeSpan.FromSeconds(1), 3, 2), (config.Membership.ProbeTimeout, config.Membership.MissedProbes, config.Membership.DeathVotes));
    }

    [Fact]
    public void Redis_and_the_cluster_settings_are_read_and_checked()
    {
        SiloConfig config = Load(new()
        {
            ["KLAIS_REDIS"] = "127.0.0.1:7000,password=x",
            ["KLAIS_SILO_ID"] = "s-1",
            ["KLAIS_CLUSTER_ID"] = "prod-b",
            ["KLAIS_SILO_PORT"] = "11112",
            ["KLAIS_SILO_GATEWAY_PORT"] = "30002",
            ["KLAIS_SILO_PROBE_TIMEOUT_MS"] = "500",
        }).Config!;
        Assert.Equal(("127.0.0.1:7000,password=x", "s-1", "prod-b", 11112, 30002), (config.Redis, config.SiloId, config.ClusterId, config.SiloPort, config.GatewayPort));
        Assert.False(config.DevelopmentMode);
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.Membership.ProbeTimeout);

        Assert.Equal(
        [
            "KLAIS_REDIS is \",,,\" (from the environment). It must be a StackExchange.Redis configuration string such as 127.0.0.1:6379 or host:port,password=secret.",
            "KLAIS_SILO_GATEWAY_PORT is \"11111\" (from the environment). It must differ from KLAIS_SILO_PORT.",
            "KLAIS_SILO_MISSED_PROBES is \"0\" (from the environment). It must be a whole number from 1 to 10.",
        ], Load(new() { ["KLAIS_REDIS"] = ",,,", ["KLAIS_SILO_GATEWAY_PORT"] = "11111", ["KLAIS_SILO_MISSED_PROBES"] = "0" }).Errors);
    }

    [Fact]
    public void Every_bad_setting_is_reported_at_once_naming_value_source_and_rule()
    {
        SiloConfigResult result = Load(new()
        {
            ["KLAIS_CONSENSUS_QUORUM"] = "0",
            ["KLAIS_SILO_ID"] = "bad id!",
            ["KLAIS_SILO_API_BIND"] = "nowhere",
            ["KLAIS_BLOCK_TTL_SECONDS"] = "forever",
            ["KLAIS_PID_TARGET_CPU"] = "1.5",
        }, "--consensus-window-seconds", "-3");

        Assert.Null(result.Config);
        Assert.Equal(
        [
            "KLAIS_SILO_ID is \"bad id!\" (from the environment). It must be 1 to 64 of a-z A-Z 0-9 . _ -.",
            "KLAIS_SILO_API_BIND is \"nowhere\" (from the environment). It must be an address and port, like 127.0.0.1:8081 or [::]:8081.",
            "KLAIS_CONSENSUS_QUORUM is \"0\" (from the environment). It must be a whole number from 1 to 100.",
            "KLAIS_CONSENSUS_WINDOW_SECONDS is \"-3\" (from --consensus-window-seconds). It must be a whole number from 1 to 86400.",
            "KLAIS_BLOCK_TTL_SECONDS is \"forever\" (from the environment). It must be a whole number from 1 to 604800.",
            "KLAIS_PID_TARGET_CPU is \"1.5\" (from the environment). It must be a number greater than 0 and at most 1.",
        ], result.Errors);
    }

    [Fact]
    public void Heartbeat_must_be_below_the_session_timeout_and_unknown_flags_are_named()
    {
        Assert.Equal(["KLAIS_SILO_HEARTBEAT_MS is \"5000\" (from the environment). It must be less than KLAIS_SILO_SESSION_TIMEOUT_MS (3000)."],
            Load(new() { ["KLAIS_SILO_SESSION_TIMEOUT_MS"] = "3000", ["KLAIS_SILO_HEARTBEAT_MS"] = "5000" }).Errors);
        Assert.Equal(["\"--quorum\" is not a flag of klais-silo; see --help."], Load([], "--quorum", "3").Errors);
    }

    [Theory]
    [InlineData("", "The body is not valid JSON")]
    [InlineData("[]", "The body must be a JSON object")]
    [InlineData("{\"reason\":\"x\"}", "ttl_seconds is required.")]
    [InlineData("{\"ttl_seconds\":\"60\",\"reason\":\"x\"}", "ttl_seconds is \"60\"; it must be a whole number from 1 to 604800.")]
    [InlineData("{\"ttl_seconds\":0,\"reason\":\"x\"}", "ttl_seconds is 0; it must be a whole number from 1 to 604800.")]
    [InlineData("{\"ttl_seconds\":1.5,\"reason\":\"x\"}", "ttl_seconds is 1.5; it must be a whole number from 1 to 604800.")]
    [InlineData("{\"ttl_seconds\":60}", "reason is required.")]
    [InlineData("{\"ttl_seconds\":60,\"reason\":\"  \"}", "reason must be a non-empty string of at most 200 characters.")]
    [InlineData("{\"ttl_seconds\":60,\"reason\":\"x\",\"ttl\":1}", "Unknown field \"ttl\"; a block takes ttl_seconds and reason.")]
    public void Bad_block_bodies_get_a_specific_message(string body, string message)
    {
        (var command, string? error) = GrainApi.ParseBlock(System.Text.Encoding.UTF8.GetBytes(body));
        Assert.Null(command);
        Assert.StartsWith(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_block_body_parses()
    {
        (var command, string? error) = GrainApi.ParseBlock("{\"ttl_seconds\":600,\"reason\":\" flood \"}"u8);
        Assert.Null(error);
        Assert.Equal((600, "flood"), (command!.TtlSeconds, command.Reason));
    }

    [Fact]
    public void Burst_model_defaults_to_the_shipped_file_next_to_the_program_and_a_directory_is_refused()
    {
        SiloConfig config = Load([]).Config!;
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "burst.onnx"), config.BurstModel.Path);
        Assert.True(File.Exists(config.BurstModel.Path), "the shipped model is copied next to the program");

        // A missing file is not a start-up failure (the heuristic and DEGRADED_ML): only a path that cannot be a file is.
        Assert.Equal("/nowhere/model.onnx", Load(new() { ["KLAIS_BURST_MODEL"] = "/nowhere/model.onnx" }).Config!.BurstModel.Path);
        Assert.Equal(Path.GetFullPath("m.onnx"), Load([], "--burst-model", "m.onnx").Config!.BurstModel.Path);

        SiloConfigResult bad = Load(new() { ["KLAIS_BURST_MODEL"] = AppContext.BaseDirectory, ["KLAIS_CONSENSUS_QUORUM"] = "0" });
        Assert.Null(bad.Config);
        Assert.Equal(2, bad.Errors.Count);
        Assert.Contains($"KLAIS_BURST_MODEL is \"{AppContext.BaseDirectory}\" (from the environment). It must be the path of an ONNX file (not a directory), or unset for the shipped model.", bad.Errors);
        Assert.Contains("KLAIS_BURST_MODEL", SiloConfigLoader.HelpText(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", 0.0, null)]
    [InlineData("0.7", 0.7, null)]
    [InlineData("0.3", 0.0, "KLAIS_OUTLIER_THRESHOLD is \"0.3\" (from the environment). It must be 0 (the outlier model off) or from 0.5 to 1: an isolation-forest score below 0.5 is an ordinary device.")]
    [InlineData("1.5", 0.0, "KLAIS_OUTLIER_THRESHOLD is \"1.5\" (from the environment). It must be a number at least 0 and at most 1.")]
    public void Outlier_threshold_is_off_at_zero_or_a_score_from_one_half_to_one(string value, double expected, string? error)
    {
        SiloConfigResult result = Load(new() { ["KLAIS_OUTLIER_THRESHOLD"] = value });
        if (error is null)
        {
            Assert.Equal(expected, result.Config!.Consensus.OutlierThreshold);
        }
        else
        {
            Assert.Equal([error], result.Errors);
        }
    }

    [Theory]
    [InlineData(null, true, null)]
    [InlineData("off", false, null)]
    [InlineData("OFF", false, null)]
    [InlineData("on", true, null)]
    [InlineData("false", true, "KLAIS_BURST_ADVICE is \"false\" (from the environment). It must be one of: on, off.")]
    public void Burst_advice_is_on_by_default_and_turned_off_by_off(string? value, bool expected, string? error)
    {
        SiloConfigResult result = Load(value is null ? [] : new() { ["KLAIS_BURST_ADVICE"] = value });
        if (error is null)
        {
            Assert.Empty(result.Errors);
            Assert.Equal(expected, result.Config!.Controller.BurstAdvice);
        }
        else
        {
            Assert.Equal([error], result.Errors);
        }

        Assert.False(Load([], "--burst-advice", "off").Config!.Controller.BurstAdvice);
        Assert.Contains("KLAIS_BURST_ADVICE", SiloConfigLoader.HelpText(), StringComparison.Ordinal);
    }
}
