using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Grains.Runtime;
using Klais.Kafka;
using Klais.Testing;

namespace Klais.Grains.Tests.Runtime;

/// <summary>Restoring a partition: last record wins, tombstones delete, a fenced-off owner's late writes are ignored.</summary>
public sealed class StateRestorerTests
{
    [Fact]
    public void Restore_claims_the_next_epoch_and_ignores_writes_of_a_fenced_owner()
    {
        using var plane = new ControlPlaneCluster(partitions: 2);
        using IProducer<byte[], byte[]> producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = plane.Bootstrap, EnableIdempotence = true }).Build();
        void Write(string key, GrainStateRecord? record)
        {
            producer.Produce(new TopicPartition(ControlPlaneTopics.GrainState, 1), new Message<byte[], byte[]>
            {
                Key = Encoding.UTF8.GetBytes(key),
                Value = record?.ToByteArray() ?? [],
            });
        }

        GrainStateRecord Device(string silo, long epoch, string id, ulong packets) =>
            new() { SchemaVersion = 1, Epoch = epoch, SiloId = silo, Device = new DeviceState { DeviceId = id, Packets = packets } };

        Write(GrainKey.OwnerKey(1), new GrainStateRecord { SchemaVersion = 1, Epoch = 1, SiloId = "old", Owner = new OwnershipClaim { Partition = 1 } });
        Write("device/a", Device("old", 1, "a", 10));
        Write("device/b", Device("old", 1, "b", 5));
        Write("device/a", Device("old", 1, "a", 20));            // last record wins
        Write("device/gone", Device("old", 1, "gone", 1));
        Write("device/gone", null);                                // tombstone
        Write(GrainKey.OwnerKey(1), new GrainStateRecord { SchemaVersion = 1, Epoch = 2, SiloId = "new", Owner = new OwnershipClaim { Partition = 1 } });
        Write("device/b", Device("new", 2, "b", 7));
        Write("device/a", Device("old", 1, "a", 999));           // the old owner, fenced off, writing late: ignored
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));

        Librdkafka.EnsureLoaded();
        using IConsumer<byte[]?, byte[]?> reader = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = plane.Bootstrap,
            GroupId = "restore-test",
            EnableAutoCommit = false,
        }).Build();
        RestoreResult result = new StateRestorer(reader, producer, "third", new ManualTimeProvider()).Restore(1);

        Assert.Equal(3, result.Epoch);
        Assert.Equal(1, result.Fenced);
        Assert.Equal(["device/a", "device/b"], result.State.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(20UL, GrainStateRecord.Parser.ParseFrom(result.State["device/a"]).Device.Packets);
        Assert.Equal(7UL, GrainStateRecord.Parser.ParseFrom(result.State["device/b"]).Device.Packets);
        TopicRecord claim = TopicReader.ReadToEnd(plane.Bootstrap, ControlPlaneTopics.GrainState, TimeSpan.FromSeconds(10)).Last(r => r.Partition == 1);
        GrainStateRecord written = GrainStateRecord.Parser.ParseFrom(claim.Value);
        Assert.Equal((3L, "third", 1), (written.Epoch, written.SiloId, written.Owner.Partition));
    }
}
