using System.Text;
using Confluent.Kafka;
using Klais.Contracts.Proto;
using Klais.Kafka;

namespace Klais.Grains.Tests.Contracts;

public sealed class GrainPartitionerTests
{
    [Fact]
    public void Partitions_agree_with_librdkafkas_murmur2_partitioner_on_the_wire()
    {
        using KafkaDevCluster cluster = KafkaDevCluster.Start();
        cluster.CreateTopic("murmur", 12);
        var keys = Enumerable.Range(0, 200).Select(i => GrainKey.Device("sensor-" + i).ToString()).ToList();
        using (IProducer<byte[], byte[]> producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            Partitioner = Partitioner.Murmur2,
            LingerMs = 1,
        }).Build())
        {
            foreach (string key in keys)
            {
                producer.Produce("murmur", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = [1] });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
        }

        IReadOnlyList<TopicRecord> records = TopicReader.Read(cluster.BootstrapServers, "murmur", keys.Count, TimeSpan.FromSeconds(20));

        Assert.Equal(keys.Count, records.Count);
        Assert.All(records, r => Assert.Equal(GrainPartitioner.Partition(Encoding.UTF8.GetString(r.Key!), 12), r.Partition));
        Assert.True(records.Select(r => r.Partition).Distinct().Count() >= 10, "keys spread over the partitions");
    }

    [Theory]
    [InlineData("device/sensor-1", GrainType.Device, "sensor-1")]
    [InlineData("node/edge-1", GrainType.Node, "edge-1")]
    [InlineData("swarm/fleet", GrainType.Swarm, "fleet")]
    [InlineData("device/a/b", GrainType.Device, "a/b")]
    public void Grain_keys_round_trip(string text, GrainType type, string id)
    {
        Assert.True(GrainKey.TryParse(text, out GrainKey key));
        Assert.Equal(new GrainKey(type, id), key);
        Assert.Equal(text, key.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("device/")]
    [InlineData("robot/x")]
    [InlineData("__owner/3")]
    [InlineData("device")]
    public void Malformed_grain_keys_are_rejected(string text) => Assert.False(GrainKey.TryParse(text, out _));
}
