using Confluent.Kafka;

namespace Klais.Kafka.Tests;

[Collection(KafkaClusterTests.Name)]
public sealed class DependentAdminTests(KafkaClusterFixture fixture)
{
    private readonly KafkaDevCluster _cluster = fixture.Cluster;

    [Fact]
    public void This_Confluent_build_has_the_poll_timeout_the_fix_sets() => Assert.True(DependentAdmin.IsPatched);

    [Fact]
    public void Dependent_admin_client_waits_instead_of_spinning()
    {
        using IProducer<byte[], byte[]> producer = TestProducer.Build(_cluster.BootstrapServers);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        using (DependentAdmin.Build(producer.Handle))
        {
            // The only way to see a foreign thread spin is to give it time. Unpatched, 300 ms of an idle dependent
            // admin client allocated 270-520 MB here (a closure per empty poll); patched, a few MB at most, most of
            // them other threads'.
            Thread.Sleep(300);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 50_000_000, $"{allocated} bytes allocated while an idle admin client lived for 300 ms");
    }

    [Fact]
    public void Partitions_come_from_the_producers_connections()
    {
        _cluster.CreateTopic("admin-partitions", partitions: 3);
        using IProducer<byte[], byte[]> producer = TestProducer.Build(_cluster.BootstrapServers);

        Assert.Equal([0, 1, 2], TopicPartitions.Get(producer.Handle, "admin-partitions", TestProducer.Wait));
    }
}
