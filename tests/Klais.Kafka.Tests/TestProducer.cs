using Confluent.Kafka;

namespace Klais.Kafka.Tests;

/// <summary>Produces with a plain idempotent Confluent producer and reports what the delivery handlers saw.</summary>
internal static class TestProducer
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public static IProducer<byte[], byte[]> Build(string bootstrapServers, int messageTimeoutMs = 20_000)
    {
        Librdkafka.EnsureLoaded();
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 1,
            MessageTimeoutMs = messageTimeoutMs,
            RetryBackoffMs = 20,
        };
        return new ProducerBuilder<byte[], byte[]>(config).SetLogHandler((_, _) => { }).Build();
    }

    public static Message<byte[], byte[]> Message(int i) => new()
    {
        Key = BitConverter.GetBytes(i % 7),
        Value = System.Text.Encoding.UTF8.GetBytes($"value-{i}"),
        Headers = new Headers { { "i", BitConverter.GetBytes(i) } },
    };

    /// <summary>Produces <paramref name="count"/> records and flushes; returns the error codes of the delivery reports.</summary>
    public static List<ErrorCode> ProduceAll(string bootstrapServers, string topic, int count, int messageTimeoutMs = 20_000)
    {
        using IProducer<byte[], byte[]> producer = Build(bootstrapServers, messageTimeoutMs);
        var reports = new List<ErrorCode>();
        for (int i = 0; i < count; i++)
        {
            producer.Produce(topic, Message(i), r =>
            {
                lock (reports)
                {
                    reports.Add(r.Error.Code);
                }
            });
        }

        producer.Flush(Wait);
        lock (reports)
        {
            return [.. reports];
        }
    }
}
