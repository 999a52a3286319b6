using Confluent.Kafka;
using Klais.Grains.Tests.Runtime;
using Klais.Kafka;

namespace Klais.Grains.Tests.Kafka;

/// <summary>
/// What the silos rely on from librdkafka's mock cluster (librdkafka 2.0.2): consumer groups with several members,
/// rebalancing, offset commits, and a member that vanishes without LeaveGroup losing its partitions after the
/// session timeout. docs/control-plane.md has the timings and what the mock does not do (static membership).
/// </summary>
public sealed class MockConsumerGroupTests
{
    private static IConsumer<byte[], byte[]> Member(string bootstrap, string name) =>
        new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "mock-group-test",
            ClientId = name,
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 3000, // at 2000 the mock never completes the first join (observed on 2.0.2)
            HeartbeatIntervalMs = 300,
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();

    [Fact]
    public async Task Two_members_share_partitions_commit_offsets_and_a_vanished_member_is_replaced_after_the_session_timeout()
    {
        Librdkafka.EnsureLoaded();
        using KafkaDevCluster cluster = KafkaDevCluster.Start();
        cluster.CreateTopic("group-topic", 4);
        using IConsumer<byte[], byte[]> a = Member(cluster.BootstrapServers, "a");
        IConsumer<byte[], byte[]> b = Member(cluster.BootstrapServers, "b");
        using var stop = new CancellationTokenSource();
        Task Poll(IConsumer<byte[], byte[]> c) => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                c.Consume(50);
            }
        });

        a.Subscribe("group-topic");
        Task pollA = Poll(a);
        Assert.True(await ControlPlaneCluster.WaitFor(() => a.Assignment.Count == 4, TimeSpan.FromSeconds(20)));

        b.Subscribe("group-topic");
        using var stopB = new CancellationTokenSource();
        Task pollB = Task.Run(() =>
        {
            while (!stopB.IsCancellationRequested)
            {
                b.Consume(50);
            }
        });
        Assert.True(await ControlPlaneCluster.WaitFor(() => a.Assignment.Count == 2 && b.Assignment.Count == 2, TimeSpan.FromSeconds(20)));
        Assert.Empty(a.Assignment.Select(p => p.Partition.Value).Intersect(b.Assignment.Select(p => p.Partition.Value)));

        TopicPartition mine = a.Assignment[0];
        a.Commit([new TopicPartitionOffset(mine, 42)]);
        Assert.Equal(42, a.Committed([mine], TimeSpan.FromSeconds(5)).Single().Offset.Value);

        // b vanishes: disposed without Close, so no LeaveGroup (as after kill -9).
        stopB.Cancel();
        await pollB;
        b.Dispose();
        Assert.True(await ControlPlaneCluster.WaitFor(() => a.Assignment.Count == 4, TimeSpan.FromSeconds(15)));

        stop.Cancel();
        await pollA;
        a.Close();
    }
}
