using Confluent.Kafka;
using Klais.Edge.Kafka;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Kafka;

public sealed class KafkaProducerOptionsTests
{
    [Fact]
    public void Defaults_with_bootstrap_servers_are_valid()
    {
        var options = new KafkaProducerOptions { BootstrapServers = "127.0.0.1:9092" };

        Assert.Empty(options.Validate());
        Assert.Equal("iot_telemetry", options.Topic);
        Assert.Equal(CompressionType.Lz4, options.Compression);
    }

    [Fact]
    public void Every_bad_value_is_reported_with_its_setting_value_and_rule()
    {
        var options = new KafkaProducerOptions
        {
            BootstrapServers = " ",
            Topic = "bad topic",
            NodeId = "",
            LingerMs = -1,
            BatchSizeBytes = 0,
            MaxInFlightMessages = 0,
            MessageTimeoutMs = 0,
        };

        Assert.Equal(
            [
                "`KafkaProducerOptions.BootstrapServers` is empty. It must list at least one host:port.",
                "`KafkaProducerOptions.Topic` is 'bad topic'. It must be 1 to 249 of a-z A-Z 0-9 . _ - (not '.' or '..').",
                "`KafkaProducerOptions.NodeId` is empty. It must name this edge.",
                "`KafkaProducerOptions.LingerMs` is -1. It must be 0 or greater.",
                "`KafkaProducerOptions.BatchSizeBytes` is 0. It must be 1 or greater.",
                "`KafkaProducerOptions.MaxInFlightMessages` is 0. It must be 1 or greater.",
                "`KafkaProducerOptions.MessageTimeoutMs` is 0. It must be greater than 0 and than `LingerMs` (-1).",
            ],
            options.Validate());
    }

    [Fact]
    public void Producer_refuses_invalid_options_naming_every_problem()
    {
        var options = new KafkaProducerOptions { BootstrapServers = "127.0.0.1:1", LingerMs = 1000, MessageTimeoutMs = 500 };

        var ex = Assert.Throws<ArgumentException>(() => new TelemetryProducer(options, NullLogger<TelemetryProducer>.Instance));

        Assert.Contains("`KafkaProducerOptions.MessageTimeoutMs` is 500", ex.Message, StringComparison.Ordinal);
    }
}
