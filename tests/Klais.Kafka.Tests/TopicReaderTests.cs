namespace Klais.Kafka.Tests;

[Collection(KafkaClusterTests.Name)]
public sealed class TopicReaderTests(KafkaClusterFixture fixture)
{
    private readonly KafkaDevCluster _cluster = fixture.Cluster;

    [Fact]
    public void Reads_every_partition_from_the_beginning_exactly_once()
    {
        _cluster.CreateTopic("reader-all", partitions: 4);

        TestProducer.ProduceAll(_cluster.BootstrapServers, "reader-all", 100);
        IReadOnlyList<TopicRecord> first = TopicReader.ReadToEnd(_cluster.BootstrapServers, "reader-all", TestProducer.Wait);
        IReadOnlyList<TopicRecord> second = TopicReader.ReadToEnd(_cluster.BootstrapServers, "reader-all", TestProducer.Wait);

        Assert.Equal(Enumerable.Range(0, 100), first.Select(r => BitConverter.ToInt32(r.Header("i"))).Order());
        Assert.True(first.Select(r => r.Partition).Distinct().Count() > 1);
        Assert.Equal(first.Select(r => (r.Partition, r.Offset)), second.Select(r => (r.Partition, r.Offset)));
    }

    [Fact]
    public void Read_returns_once_the_expected_count_arrived()
    {
        _cluster.CreateTopic("reader-count", partitions: 2);
        TestProducer.ProduceAll(_cluster.BootstrapServers, "reader-count", 10);

        IReadOnlyList<TopicRecord> records = TopicReader.Read(_cluster.BootstrapServers, "reader-count", expectedCount: 10, TestProducer.Wait);

        Assert.Equal(10, records.Count);
    }

    [Fact]
    public void Read_of_an_empty_topic_returns_nothing_at_the_timeout()
    {
        _cluster.CreateTopic("reader-empty", partitions: 2);

        IReadOnlyList<TopicRecord> records = TopicReader.Read(_cluster.BootstrapServers, "reader-empty", expectedCount: 1, TimeSpan.FromMilliseconds(300));

        Assert.Empty(records);
        Assert.Empty(TopicReader.ReadToEnd(_cluster.BootstrapServers, "reader-empty", TestProducer.Wait));
    }
}
