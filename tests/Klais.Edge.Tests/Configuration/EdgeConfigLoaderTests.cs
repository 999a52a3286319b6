using Klais.Contracts.Configuration;
using System.Net;
using Klais.Edge.Configuration;
using Klais.Edge.Spill;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Tests.Configuration;

public sealed class EdgeConfigLoaderTests
{
    private static EdgeConfigResult Load(Dictionary<string, string>? env = null, params string[] args) =>
        EdgeConfigLoader.Load(args, name => env is not null && env.TryGetValue(name, out string? v) ? v : null);

    [Fact]
    public void The_api_tokens_file_is_read_and_every_bad_line_and_the_retired_single_token_are_listed()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["good-token-0123456789 operate", "short admin", "other-token-0123456789 root"]);
            EdgeConfigResult result = Load(new() { ["KLAIS_API_TOKENS_FILE"] = file, ["KLAIS_API_TOKEN"] = "s3cret" });

            Assert.Null(result.Config);
            Assert.Equal(
                [
                    "KLAIS_API_TOKEN is \"(hidden)\" (from the environment). It is replaced by KLAIS_API_TOKENS_FILE: a file of '<token> <role>' lines, roles read, operate and admin.",
                    $"KLAIS_API_TOKENS_FILE is \"{file}\" (from the environment). Line 2: the token has 5 characters; at least 16 are required.",
                    $"KLAIS_API_TOKENS_FILE is \"{file}\" (from the environment). Line 3: role 'root' is none of read, operate, admin.",
                ],
                result.Errors);

            File.WriteAllLines(file, ["good-token-0123456789 operate"]);
            Assert.Equal(1, Load(new() { ["KLAIS_API_TOKENS_FILE"] = file }).Config!.ApiTokens.Count);
            Assert.True(Load().Config!.ApiTokens.IsOpen);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_missing_tokens_file_is_a_configuration_error_not_an_open_api()
    {
        EdgeConfigResult result = Load(new() { ["KLAIS_API_TOKENS_FILE"] = "/nonexistent/klais-tokens" });

        Assert.Null(result.Config);
        Assert.Single(result.Errors, e => e.StartsWith("KLAIS_API_TOKENS_FILE is \"/nonexistent/klais-tokens\" (from the environment). It cannot be read:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("information", LogLevel.Information)]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("none", LogLevel.None)]
    public void Log_level_takes_the_short_names_and_those_of_Microsoft_Extensions_Logging(string name, LogLevel expected)
    {
        EdgeConfigResult result = Load(new() { ["KLAIS_LOG_LEVEL"] = name });

        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Config!.LogLevel);
    }

    [Fact]
    public void Defaults_match_the_design()
    {
        EdgeConfig config = Load().Config!;

        Assert.Equal(IPEndPoint.Parse("0.0.0.0:5000"), config.UdpBind);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:8080"), config.ApiBind);
        Assert.Null(config.KafkaBootstrap);
        Assert.True(config.EmbeddedKafka);
        Assert.Equal("iot_telemetry", config.KafkaTopic);
        Assert.Equal(10000, config.DamMaxRate);
        Assert.Equal(50000, config.DamBurstSize);
        Assert.Equal(LogLevel.Information, config.LogLevel);
        Assert.Equal(Environment.MachineName, config.NodeId);
    }

    [Fact]
    public void Control_plane_is_on_by_default_with_an_external_kafka()
    {
        var env = new Dictionary<string, string> { ["KLAIS_KAFKA_BOOTSTRAP"] = "k1:9092" };

        Assert.True(Load(env).Config!.ControlEnabled);
        Assert.False(Load(new Dictionary<string, string>(env) { ["KLAIS_CONTROL"] = "off" }).Config!.ControlEnabled);
    }

    [Fact]
    public void Embedded_dev_cluster_has_no_control_plane_even_when_asked()
    {
        Assert.False(Load().Config!.ControlEnabled);
        Assert.False(Load(new Dictionary<string, string> { ["KLAIS_CONTROL"] = "on" }).Config!.ControlEnabled);
    }

    [Fact]
    public void Environment_overrides_defaults_and_flags_override_environment()
    {
        var env = new Dictionary<string, string> { ["KLAIS_DAM_MAX_RATE"] = "2000", ["KLAIS_NODE_ID"] = "edge-7", ["KLAIS_KAFKA_BOOTSTRAP"] = "k1:9092,k2:9092" };

        EdgeConfig config = Load(env, "--dam-max-rate", "3000", "--udp-bind=[::]:6000").Config!;

        Assert.Equal(3000, config.DamMaxRate);
        Assert.Equal("edge-7", config.NodeId);
        Assert.Equal("k1:9092,k2:9092", config.KafkaBootstrap);
        Assert.Equal(IPEndPoint.Parse("[::]:6000"), config.UdpBind);
    }

    [Fact]
    public void Reports_every_bad_setting_at_once_naming_value_source_and_rule()
    {
        var env = new Dictionary<string, string>
        {
            ["KLAIS_DAM_MAX_RATE"] = "0",
            ["KLAIS_DAM_BURST_SIZE"] = "lots",
            ["KLAIS_UDP_BIND"] = "5000",
            ["KLAIS_LOG_LEVEL"] = "verbose",
            ["KLAIS_KAFKA_TOPIC"] = "bad topic!",
        };

        EdgeConfigResult result = Load(env, "--max-payload-bytes", "1", "--no-such-flag", "x");

        Assert.Null(result.Config);
        Assert.Equal(7, result.Errors.Count);
        Assert.Contains("KLAIS_DAM_MAX_RATE is \"0\" (from the environment). It must be a number greater than 0 and at most 100000000.", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_DAM_BURST_SIZE is \"lots\" (from the environment). It must be a whole number", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_UDP_BIND is \"5000\"", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_LOG_LEVEL is \"verbose\"", StringComparison.Ordinal) && e.Contains("trace, debug, info", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_KAFKA_TOPIC is \"bad topic!\"", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_MAX_PAYLOAD_BYTES is \"1\" (from --max-payload-bytes)", StringComparison.Ordinal));
        Assert.Contains("Flag --no-such-flag is not a setting of klais-edge; see --help.", result.Errors);
    }

    [Fact]
    public void Spill_breaker_and_dedupe_settings_have_safe_defaults_and_parse_their_forms()
    {
        EdgeConfig defaults = Load().Config!;
        Assert.Null(defaults.SpillDirectory);
        Assert.Equal(1L << 30, defaults.SpillMaxBytes);
        Assert.Equal(SpillFsync.Interval, defaults.SpillFsync);
        Assert.Equal(TimeSpan.FromMilliseconds(100), defaults.SpillFsyncInterval);
        Assert.Equal(SpillFullPolicy.RefuseNewest, defaults.SpillFullPolicy);
        Assert.Equal(TimeSpan.FromSeconds(5), defaults.BreakerBreak);
        Assert.Equal(1 << 20, defaults.DedupeMaxDevices);

        EdgeConfig set = Load(new Dictionary<string, string>
        {
            ["KLAIS_SPILL_DIR"] = "/var/lib/klais-edge/spill",
            ["KLAIS_SPILL_FSYNC"] = "always",
            ["KLAIS_SPILL_FULL_POLICY"] = "block",
        }, "--spill-fsync", "interval:250").Config!;
        Assert.Equal("/var/lib/klais-edge/spill", set.SpillDirectory);
        Assert.Equal(SpillFsync.Interval, set.SpillFsync);
        Assert.Equal(TimeSpan.FromMilliseconds(250), set.SpillFsyncInterval);
        Assert.Equal(SpillFullPolicy.Block, set.SpillFullPolicy);
    }

    [Fact]
    public void The_record_format_is_headers_by_default_envelope_when_asked_and_anything_else_is_named_with_the_choices()
    {
        Assert.Equal(Klais.Kafka.RecordFormat.Headers, Load().Config!.KafkaRecordFormat);
        Assert.Equal(Klais.Kafka.RecordFormat.Envelope, Load(new Dictionary<string, string>(), "--kafka-record-format", "envelope").Config!.KafkaRecordFormat);

        EdgeConfigResult bad = Load(new Dictionary<string, string> { ["KLAIS_KAFKA_RECORD_FORMAT"] = "avro", ["KLAIS_KAFKA_LINGER_MS"] = "-1" });
        Assert.Null(bad.Config);
        Assert.Equal(2, bad.Errors.Count);
        string error = Assert.Single(bad.Errors, e => e.StartsWith("KLAIS_KAFKA_RECORD_FORMAT is \"avro\" (from the environment).", StringComparison.Ordinal));
        Assert.Contains("headers", error, StringComparison.Ordinal);
        Assert.Contains("envelope", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_receive_handoff_is_off_by_default_4_batches_when_asked_and_more_than_64_is_refused()
    {
        Assert.Equal(0, Load().Config!.ReceiveHandoff);
        Assert.Equal(4, Load(new Dictionary<string, string> { ["KLAIS_RECEIVE_HANDOFF"] = "4" }).Config!.ReceiveHandoff);

        EdgeConfigResult bad = Load(new Dictionary<string, string> { ["KLAIS_RECEIVE_HANDOFF"] = "65" });
        Assert.Null(bad.Config);
        Assert.StartsWith("KLAIS_RECEIVE_HANDOFF is \"65\" (from the environment). It must be a whole number from 0 to 64", Assert.Single(bad.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_spill_breaker_and_dedupe_settings_are_all_reported()
    {
        var env = new Dictionary<string, string>
        {
            ["KLAIS_SPILL_MAX_BYTES"] = "100",
            ["KLAIS_SPILL_FSYNC"] = "sometimes",
            ["KLAIS_SPILL_FULL_POLICY"] = "drop-everything",
            ["KLAIS_BREAKER_BREAK_MS"] = "10",
            ["KLAIS_DEDUPE_MAX_DEVICES"] = "5",
        };

        EdgeConfigResult result = Load(env, "--spill-fsync", "interval:0");

        Assert.Null(result.Config);
        Assert.Equal(5, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_SPILL_MAX_BYTES is \"100\" (from the environment). It must be a whole number from 1048576", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_SPILL_FSYNC is \"interval:0\" (from --spill-fsync). It must be always, never, or interval:<ms>", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_SPILL_FULL_POLICY is \"drop-everything\"", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_BREAKER_BREAK_MS is \"10\"", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("KLAIS_DEDUPE_MAX_DEVICES is \"5\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Reads_settings_file_below_environment()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, """{"KLAIS_DAM_MAX_RATE": 4000, "KLAIS_KAFKA_TOPIC": "from_file", "KLAIS_VALIDATE_JSON": false}""");
        var env = new Dictionary<string, string> { ["KLAIS_KAFKA_TOPIC"] = "from_env" };

        EdgeConfig config = Load(env, "--config", path).Config!;

        Assert.Equal(4000, config.DamMaxRate);
        Assert.Equal("from_env", config.KafkaTopic);
        Assert.False(config.ValidateJson);
        File.Delete(path);
    }

    [Fact]
    public void Unknown_key_in_settings_file_is_an_error()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, """{"KLAIS_DAM_MAX_RATE": -1, "KLAIS_TYPO": 1}""");

        EdgeConfigResult result = Load(null, "--config", path);

        Assert.Equal(2, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.Contains("\"KLAIS_TYPO\"", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith($"KLAIS_DAM_MAX_RATE is \"-1\" (from {path})", StringComparison.Ordinal));
        File.Delete(path);
    }

    [Fact]
    public void Help_lists_every_setting()
    {
        Assert.True(Load(null, "--help").HelpRequested);
        string help = EdgeConfigLoader.HelpText();

        foreach (Setting s in EdgeSettings.All)
        {
            Assert.Contains(s.EnvName, help, StringComparison.Ordinal);
            Assert.Contains(s.Flag, help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(null, null, "Off", null)]
    [InlineData("eth0", null, "Auto", "eth0")]
    [InlineData("eth0", "generic", "Generic", "eth0")]
    [InlineData("eth0", "native", "Native", "eth0")]
    [InlineData("eth0", "off", "Off", null)]
    public void Xdp_mode_defaults_to_auto_when_an_interface_is_named(string? iface, string? mode, string expected, string? expectedIface)
    {
        var env = new Dictionary<string, string>();
        if (iface is not null)
        {
            env["KLAIS_XDP_IFACE"] = iface;
        }

        if (mode is not null)
        {
            env["KLAIS_XDP_MODE"] = mode;
        }

        EdgeConfig config = Load(env).Config!;

        Assert.Equal(expected, config.XdpMode.ToString());
        Assert.Equal(expectedIface, config.XdpInterface);
    }

    [Fact]
    public void Bad_xdp_settings_are_each_named()
    {
        EdgeConfigResult both = Load(new Dictionary<string, string> { ["KLAIS_XDP_IFACE"] = "eth0/x", ["KLAIS_XDP_MODE"] = "turbo" });
        Assert.Null(both.Config);
        Assert.Contains(both.Errors, e => e.StartsWith("KLAIS_XDP_IFACE is \"eth0/x\"", StringComparison.Ordinal));
        Assert.Contains(both.Errors, e => e.StartsWith("KLAIS_XDP_MODE is \"turbo\"", StringComparison.Ordinal));

        EdgeConfigResult noInterface = Load(new Dictionary<string, string> { ["KLAIS_XDP_MODE"] = "generic" });
        Assert.Equal(["KLAIS_XDP_MODE is \"generic\" but KLAIS_XDP_IFACE is unset. Name the interface the filter attaches to, or set KLAIS_XDP_MODE=off."], noInterface.Errors);
    }
}
