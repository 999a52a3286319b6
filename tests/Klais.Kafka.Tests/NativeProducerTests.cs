using System.Buffers.Binary;
using System.Text;

namespace Klais.Kafka.Tests;

/// <summary>The librdkafka-direct producer writes what the edge writes, and reports every record with its opaque.</summary>
[Collection(KafkaClusterTests.Name)]
public sealed class NativeProducerTests(KafkaClusterFixture fixture)
{
    private readonly KafkaDevCluster _cluster = fixture.Cluster;

    [Fact]
    public void Records_carry_key_value_timestamp_and_the_three_headers_and_every_report_comes_back_once_with_its_opaque()
    {
        _cluster.CreateTopic("native-produce", partitions: 3);
        using var producer = new NativeProducer(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = _cluster.BootstrapServers, ["enable.idempotence"] = "true", ["acks"] = "all", ["linger.ms"] = "5",
        }, "native-produce", "edge-7");

        const int count = 500;
        for (int i = 0; i < count; i++)
        {
            byte[] value = Encoding.UTF8.GetBytes($"{{\"i\":{i},\"pad\":\"{new string('x', i % 37)}\"}}");
            Assert.Equal(0, producer.Produce(Encoding.UTF8.GetBytes($"dev-{i % 10:000}"), value, (uint)(1000 + i), 1_767_225_600_000_000_000L + (i * 1_000_000L), opaque: 10_000 + i));
        }

        var reports = new List<(long Opaque, int Error)>();
        DateTime deadline = DateTime.UtcNow + TestProducer.Wait;
        while (reports.Count < count && DateTime.UtcNow < deadline)
        {
            producer.Poll(100, (opaque, error) => reports.Add((opaque, error)));
        }

        Assert.Equal(Enumerable.Range(10_000, count).Select(i => (long)i), reports.Select(r => r.Opaque).Order());
        Assert.All(reports, r => Assert.Equal(0, r.Error));

        IReadOnlyList<TopicRecord> records = TopicReader.Read(_cluster.BootstrapServers, "native-produce", count, TestProducer.Wait);
        Assert.Equal(count, records.Count);
        foreach (TopicRecord r in records)
        {
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(r.Header("seq"));
            int i = (int)seq - 1000;
            Assert.Equal($"dev-{i % 10:000}", Encoding.UTF8.GetString(r.Key!));
            Assert.Equal($"{{\"i\":{i},\"pad\":\"{new string('x', i % 37)}\"}}", Encoding.UTF8.GetString(r.Value!));
            Assert.Equal("edge-7", Encoding.UTF8.GetString(r.Header("edge")!));
            Assert.Equal(1_767_225_600_000_000_000L + (i * 1_000_000L), BinaryPrimitives.ReadInt64BigEndian(r.Header("ts")));
            Assert.Equal(1_767_225_600_000L + i, r.TimestampUnixMs);
        }
    }
}
