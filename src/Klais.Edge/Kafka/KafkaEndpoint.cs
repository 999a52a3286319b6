using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Kafka;

/// <summary>
/// The Kafka the edge writes to and reads klais.control from: <c>KLAIS_KAFKA_BOOTSTRAP</c>, or, when it is unset, an
/// embedded in-memory dev cluster owned by this process (one broker, the telemetry topic with 6 partitions), stopped
/// when the edge is disposed, after every client of it.
/// </summary>
internal sealed partial class KafkaEndpoint : IDisposable
{
    public KafkaEndpoint(EdgeConfig config, ILogger<KafkaEndpoint> log)
    {
        Librdkafka.EnsureLoaded();
        if (config.KafkaBootstrap is not null)
        {
            Bootstrap = config.KafkaBootstrap;
            return;
        }

        EmbeddedCluster = KafkaDevCluster.Start(brokers: 1);
        EmbeddedCluster.CreateTopic(config.KafkaTopic, partitions: 6);
        Bootstrap = EmbeddedCluster.BootstrapServers;
        LogEmbeddedCluster(log, Bootstrap);
    }

    public string Bootstrap { get; }

    /// <summary>The embedded dev cluster: not durable, records are lost when the edge exits. Null with real brokers.</summary>
    public KafkaDevCluster? EmbeddedCluster { get; }

    public bool IsEmbedded => EmbeddedCluster is not null;

    public void Dispose() => EmbeddedCluster?.Dispose();

    [LoggerMessage(EventId = EventIds.EmbeddedCluster, Level = LogLevel.Warning,
        Message = "KLAIS_KAFKA_BOOTSTRAP is unset: started an embedded Kafka dev cluster at {Bootstrap}. It is in memory and NOT durable: records are lost when this process exits. Set KLAIS_KAFKA_BOOTSTRAP for real use.")]
    private static partial void LogEmbeddedCluster(ILogger logger, string bootstrap);
}
