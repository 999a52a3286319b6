using ErrorCode = Confluent.Kafka.ErrorCode;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Edge.Kafka;
using Klais.Kafka;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Kafka;

/// <summary>librdkafka gives records back through rd_kafka_purge, and the producer's own copies carry them to an observer intact.</summary>
public sealed class InFlightReturnTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;

    public InFlightReturnTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
        _cluster.CreateTopic("purge", 2);
    }

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Purged_records_come_back_to_the_observer_with_their_contents_and_produce_order()
    {
        using var producer = new TelemetryProducer(
            new KafkaProducerOptions { BootstrapServers = _cluster.BootstrapServers, Topic = "purge", NodeId = "t" },
            NullLogger<TelemetryProducer>.Instance);
        var observer = new Observer();
        producer.Observer = observer;
        Assert.True(producer.Probe(TimeSpan.FromSeconds(10), out string problem), problem);

        _cluster.SetAllBrokersDown();
        for (int i = 0; i < 50; i++)
        {
            Assert.True(producer.TryDeliver(new Admitted("dev-1"u8, (uint)i, System.Text.Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"), i)));
        }

        producer.Purge(inFlight: true);
        Assert.True(await Eventually.TrueAsync(() => producer.InFlight == 0, TimeSpan.FromSeconds(10)));

        Assert.Equal(50, producer.Returned);
        Assert.Equal(0, producer.Delivered);
        Assert.Equal(0, producer.Failed);
        Assert.All(observer.Returned, r => Assert.True(r.Code is ErrorCode.Local_PurgeQueue or ErrorCode.Local_PurgeInflight));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => ((uint)i, $"{{\"i\":{i}}}")), observer.Returned.OrderBy(r => r.Order).Select(r => (r.Sequence, r.Payload)));
        Assert.False(producer.Probe(TimeSpan.FromSeconds(1), out _));
    }

    private sealed class Observer : IDeliveryObserver
    {
        public List<(uint Sequence, string Payload, long Order, ErrorCode Code)> Returned { get; } = [];

        public void OnDelivered(InFlightRecord record)
        {
        }

        public void OnReturned(InFlightRecord record, ErrorCode code, PersistenceStatus status)
        {
            lock (Returned)
            {
                Returned.Add((record.Sequence, System.Text.Encoding.UTF8.GetString(record.Record.Payload), record.Order, code));
            }
        }

        public void OnClientError(Error error)
        {
        }
    }
}
