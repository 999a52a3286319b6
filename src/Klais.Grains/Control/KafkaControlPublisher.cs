using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Kafka;

namespace Klais.Grains.Control;

/// <summary>
/// The silo's one idempotent producer for klais.control (acks=all): keys and the record format are those edges
/// already follow. Versions only grow on one silo (Unix microseconds, or the last plus one), so an edge that replays
/// the topic sees each key's newest decision last.
/// </summary>
public sealed class KafkaControlPublisher : IControlPublisher, IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly TimeProvider _time;
    private readonly string _siloId;
    private readonly int _partitions;
    private long _version;
    private long _published;

    public KafkaControlPublisher(string bootstrapServers, string siloId, TimeProvider time)
    {
        _time = time;
        _siloId = siloId;
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "klais-silo-" + siloId + "-control",
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 1,
            MessageTimeoutMs = 30_000,
        }).Build();
        _partitions = TopicPartitions.Get(_producer.Handle, ControlPlaneTopics.Control, TimeSpan.FromSeconds(30)).Count;
    }

    public long Published => Interlocked.Read(ref _published);

    public async Task PublishAsync(string target, string key, ControlUpdate update)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        update.SchemaVersion = Schema.Current;
        update.Version = NextVersion(now * 1000);
        update.Target = target;
        update.IssuedBy = _siloId;
        update.IssuedUnixMs = now;
        await _producer.ProduceAsync(new TopicPartition(ControlPlaneTopics.Control, GrainPartitioner.Partition(key, _partitions)),
            new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = update.ToByteArray() });
        Interlocked.Increment(ref _published);
    }

    private long NextVersion(long clockMicros)
    {
        while (true)
        {
            long current = Interlocked.Read(ref _version);
            long next = Math.Max(current + 1, clockMicros);
            if (Interlocked.CompareExchange(ref _version, next, current) == current)
            {
                return next;
            }
        }
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}
