using Klais.Kafka;

namespace Klais.Kafka.Tests;

/// <summary>One three-broker mock cluster shared by the tests that do not break it.</summary>
public sealed class KafkaClusterFixture : IDisposable
{
    public KafkaDevCluster Cluster { get; } = KafkaDevCluster.Start(brokers: 3);

    public void Dispose() => Cluster.Dispose();
}

[CollectionDefinition(Name)]
public sealed class KafkaClusterTests : ICollectionFixture<KafkaClusterFixture>
{
    public const string Name = "kafka mock cluster";
}
