using System.Collections.Concurrent;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Klais.Testing;

namespace Klais.Kafka.Tests;

[Collection(KafkaClusterTests.Name)]
public sealed class KafkaDevClusterTests(KafkaClusterFixture fixture)
{
    private readonly KafkaDevCluster _cluster = fixture.Cluster;

    [Fact]
    public void Broker_ports_are_reserved_against_ephemeral_use_while_the_cluster_lives()
    {
        // Root only (as the suite runs here): the kernel's reserved-port list is machine-wide and root-owned.
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("KLAIS_REQUIRE_PRIVILEGED") != "1", "KLAIS_REQUIRE_PRIVILEGED=1 needs root");
        if (Environment.UserName != "root")
        {
            return;
        }

        IReadOnlyList<int> ports;
        using (var cluster = KafkaDevCluster.Start(brokers: 2))
        {
            ports = cluster.BrokerPorts;
            Assert.Equal(cluster.BootstrapServers, string.Join(',', ports.Select(p => $"127.0.0.1:{p}")));
            Assert.Subset(ReservedList(), ports.ToHashSet());
        }

        Assert.Empty(ReservedList().Intersect(ports));

        // A process that ended without releasing its reservation (kill -9): the next cluster releases it.
        const int orphan = 20999;
        string folder = Path.Combine(Path.GetTempPath(), "klais-reserved-ports");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "4194304.test"), orphan.ToString(System.Globalization.CultureInfo.InvariantCulture)); // above pid_max: never a live process
        File.WriteAllText("/proc/sys/net/ipv4/ip_local_reserved_ports", string.Join(',', ReservedList().Append(orphan)));
        Assert.Contains(orphan, ReservedList());
        using (KafkaDevCluster.Start())
        {
            Assert.DoesNotContain(orphan, ReservedList());
            Assert.False(File.Exists(Path.Combine(folder, "4194304.test")));
        }
    }

    /// <summary>
    /// A broker going down binds its port again at once, and librdkafka aborts the process when that fails; it fails when
    /// a child is between fork and exec (holding a copy of the listener) at that moment. Without the gate this test
    /// aborted the test host in three of four runs (a standalone loop of the same: within 100 cycles, three of three).
    /// </summary>
    [Fact]
    public async Task Brokers_go_down_and_up_beside_child_processes_starting_without_aborting_the_process()
    {
        using var cluster = KafkaDevCluster.Start();
        int cycles = 0, started = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        var spawner = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using System.Diagnostics.Process child = ChildProcess.Run(new System.Diagnostics.ProcessStartInfo("true"));
                child.WaitForExit();
                Interlocked.Increment(ref started);
            }
        });

        // The mock's broker thread sometimes takes its poll timeout (1 s) to serve a command, so how many cycles fit
        // depends on the machine: until 2,000 cycles have overlapped 1,000 process starts, or 6 s.
        while (!stop.IsCancellationRequested && (cycles < 2000 || Volatile.Read(ref started) < 1000))
        {
            cluster.SetBrokerDown(1);
            cluster.SetBrokerUp(1);
            cycles++;
        }

        await stop.CancelAsync();
        await spawner;
        Assert.True(cycles >= 20 && started >= 100, $"{cycles} cycles beside {started} process starts: too few to have raced");
    }

    [Fact]
    public void The_kernels_reserved_port_list_reads_as_ports()
    {
        Assert.Equal([8080, 9000, 9001, 9002, 40010], ReservedPorts.Parse("8080,9000-9002, 40010\n").Order());
        Assert.Empty(ReservedPorts.Parse("\n"));
    }

    private static HashSet<int> ReservedList() => ReservedPorts.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_reserved_ports"));

    [Fact]
    public void A_partition_keeps_only_its_newest_5_MiB_of_record_batches()
    {
        // librdkafka's mock deletes a partition's oldest batches beyond 5 MiB (or 100,000 batches): what reads back
        // from a long run is its tail, however much was acknowledged.
        _cluster.CreateTopic("mock-retention", partitions: 1);
        using (IProducer<byte[], byte[]> producer = TestProducer.Build(_cluster.BootstrapServers))
        {
            byte[] value = new byte[1000];
            for (int i = 0; i < 8000; i++)
            {
                producer.Produce("mock-retention", new Message<byte[], byte[]> { Value = value });
            }

            Assert.Equal(0, producer.Flush(TestProducer.Wait));
        }

        IReadOnlyList<TopicRecord> kept = TopicReader.ReadToEnd(_cluster.BootstrapServers, "mock-retention", TestProducer.Wait);
        Assert.InRange(kept.Count, 4000, 5300); // about 5 MiB of 1 kB records
        Assert.Equal(7999, kept[^1].Offset);
        Assert.True(kept[0].Offset > 2500, $"the oldest record kept is at offset {kept[0].Offset}");
    }

    [Fact]
    public void Debian_librdkafka_is_the_loaded_native_library()
    {
        Parallel.For(0, 8, _ => Librdkafka.EnsureLoaded());

        Assert.Equal("2.0.2", Librdkafka.Version);
    }

    [Fact]
    public void Bootstrap_list_names_one_loopback_port_per_broker()
    {
        string[] brokers = _cluster.BootstrapServers.Split(',');

        Assert.Equal(3, _cluster.BrokerCount);
        Assert.Equal(3, brokers.Length);
        Assert.All(brokers, b => Assert.StartsWith("127.0.0.1:", b, StringComparison.Ordinal));
    }

    [Fact]
    public void Created_topic_has_its_partition_count_in_metadata()
    {
        _cluster.CreateTopic("six-partitions", partitions: 6, replicationFactor: 3);

        TopicMetadata topic = Metadata("six-partitions");

        Assert.False(topic.Error.IsError);
        Assert.Equal([0, 1, 2, 3, 4, 5], topic.Partitions.Select(p => p.PartitionId).Order());
        Assert.All(topic.Partitions, p => Assert.Equal(3, p.Replicas.Length));
    }

    [Fact]
    public void Produced_records_come_back_with_key_value_and_headers()
    {
        _cluster.CreateTopic("round-trip", partitions: 1);

        List<ErrorCode> reports = TestProducer.ProduceAll(_cluster.BootstrapServers, "round-trip", 50);
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, "round-trip", TestProducer.Wait);

        Assert.Equal(Enumerable.Repeat(ErrorCode.NoError, 50), reports);
        Assert.Equal(50, records.Count);
        for (int i = 0; i < 50; i++)
        {
            Message<byte[], byte[]> sent = TestProducer.Message(i);
            Assert.Equal(sent.Key, records[i].Key);
            Assert.Equal(sent.Value, records[i].Value);
            Assert.Equal(BitConverter.GetBytes(i), records[i].Header("i"));
            Assert.Equal(i, records[i].Offset);
        }
    }

    [Fact]
    public void Producing_to_an_unknown_topic_auto_creates_it_with_four_partitions()
    {
        List<ErrorCode> reports = TestProducer.ProduceAll(_cluster.BootstrapServers, "never-created", 5);

        Assert.Equal(Enumerable.Repeat(ErrorCode.NoError, 5), reports);
        Assert.Equal(4, Metadata("never-created").Partitions.Count);
    }

    [Fact]
    public async Task Admin_api_create_topics_is_never_answered_by_the_mock()
    {
        using IAdminClient admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _cluster.BootstrapServers }).Build();

        var ex = await Assert.ThrowsAsync<KafkaException>(() =>
            admin.CreateTopicsAsync(
                [new TopicSpecification { Name = "via-admin", NumPartitions = 2, ReplicationFactor = 1 }],
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(2) }));

        Assert.Equal(ErrorCode.Local_TimedOut, ex.Error.Code);
    }

    [Fact]
    public void Injected_produce_errors_are_retried_without_duplicates()
    {
        _cluster.CreateTopic("retried", partitions: 1);
        _cluster.PushRequestErrors(
            KafkaApiKey.Produce,
            ErrorCode.NotLeaderForPartition,
            ErrorCode.RequestTimedOut,
            ErrorCode.NotEnoughReplicas,
            ErrorCode.NotEnoughReplicasAfterAppend);

        List<ErrorCode> reports = TestProducer.ProduceAll(_cluster.BootstrapServers, "retried", 200);
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, "retried", TestProducer.Wait);

        Assert.Equal(Enumerable.Repeat(ErrorCode.NoError, 200), reports);
        Assert.Equal(Enumerable.Range(0, 200), records.Select(r => BitConverter.ToInt32(r.Header("i"))));
    }

    [Fact]
    public void Cluster_rejects_unknown_broker_ids_and_bad_topic_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _cluster.SetBrokerDown(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _cluster.SetBrokerUp(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => _cluster.CreateTopic("t", partitions: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _cluster.CreateTopic("t", partitions: 1, replicationFactor: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => KafkaDevCluster.Start(brokers: 0));
    }

    private TopicMetadata Metadata(string topic)
    {
        using IAdminClient admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _cluster.BootstrapServers }).Build();
        return admin.GetMetadata(topic, TestProducer.Wait).Topics.Single();
    }
}

/// <summary>Faults that would disturb the shared cluster get a cluster of their own (it starts in milliseconds).</summary>
public sealed class KafkaDevClusterFaultTests
{
    [Fact]
    public void Produce_stalls_while_the_broker_is_down_and_delivers_once_it_is_up()
    {
        using var cluster = KafkaDevCluster.Start();
        cluster.CreateTopic("stall", partitions: 1);
        using IProducer<byte[], byte[]> producer = TestProducer.Build(cluster.BootstrapServers);
        var reports = new BlockingCollection<ErrorCode>();

        cluster.SetAllBrokersDown();
        producer.Produce("stall", TestProducer.Message(1), r => reports.Add(r.Error.Code));
        bool reportedWhileDown = reports.TryTake(out _, TimeSpan.FromSeconds(1));
        cluster.SetAllBrokersUp();

        Assert.False(reportedWhileDown);
        Assert.True(reports.TryTake(out ErrorCode code, TestProducer.Wait));
        Assert.Equal(ErrorCode.NoError, code);
        Assert.Single(TopicReader.ReadToEnd(cluster.BootstrapServers, "stall", TestProducer.Wait));
    }

    [Fact]
    public void Produce_fails_with_message_timeout_while_the_broker_stays_down()
    {
        using var cluster = KafkaDevCluster.Start();
        cluster.CreateTopic("down", partitions: 1);
        cluster.SetBrokerDown(1);

        List<ErrorCode> reports = TestProducer.ProduceAll(cluster.BootstrapServers, "down", 3, messageTimeoutMs: 500);

        Assert.Equal(Enumerable.Repeat(ErrorCode.Local_MsgTimedOut, 3), reports);
    }
}
