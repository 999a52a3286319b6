using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>
/// librdkafka's mock cluster: real Kafka brokers speaking the wire protocol on loopback TCP ports, inside
/// this process, with fault injection. Used by the tests and as the edge's embedded default when no
/// bootstrap servers are configured.
/// <para>
/// It is IN-MEMORY and NEVER COMPACTS: everything written stays in RAM until <see cref="Dispose"/>, and
/// nothing survives the process. Fine for tests and demos, never for production.
/// </para>
/// <para>
/// Create topics with <see cref="CreateTopic"/>: the mock does not implement CreateTopics through the
/// admin API (the request is never answered; the client gives up with Local_TimedOut). Producing to or subscribing to an unknown topic auto-creates it (the mock answers
/// Metadata requests that allow auto-creation) with librdkafka's mock defaults, 4 partitions and
/// replication factor min(3, brokers): create topics explicitly when the partition count matters.
/// </para>
/// </summary>
/// <example>
/// <code>
/// using var cluster = KafkaDevCluster.Start(brokers: 3);
/// cluster.CreateTopic("iot_telemetry", partitions: 6);
/// var config = new ProducerConfig { BootstrapServers = cluster.BootstrapServers };
/// </code>
/// </example>
public sealed class KafkaDevCluster : IDisposable
{
    private readonly SafeKafkaHandle _host;
    private readonly SafeMockClusterHandle _cluster;
    private readonly string? _reservation;

    private KafkaDevCluster(SafeKafkaHandle host, SafeMockClusterHandle cluster, int brokerCount)
    {
        _host = host;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Interop.Librdkafka.MockClusterBootstraps(cluster);
        BrokerPorts = [.. BootstrapServers.Split(',').Select(b => int.Parse(b[(b.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture))];
        // A broker taken down must be able to listen on its port again: no other socket may be given it meanwhile.
        _reservation = ReservedPorts.Add(BrokerPorts);
    }

    /// <summary>The brokers' loopback ports, in broker id order; reserved against ephemeral use while the cluster lives (when root).</summary>
    public IReadOnlyList<int> BrokerPorts { get; }

    /// <summary>Comma-separated <c>host:port</c> list of the mock brokers, for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; their ids are 1 to <see cref="BrokerCount"/>.</summary>
    public int BrokerCount { get; }

    /// <summary>Starts a mock cluster with <paramref name="brokers"/> brokers (ids 1..n) on free loopback ports.</summary>
    public static KafkaDevCluster Start(int brokers = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        SafeKafkaHandle host = Interop.Librdkafka.NewProducer(new Dictionary<string, string>
        {
            ["client.id"] = "klais-devcluster",
            ["log_level"] = "4", // warnings and worse: the host handle has no bootstrap.servers, which librdkafka notes at level 5
        });
        try
        {
            return new KafkaDevCluster(host, Interop.Librdkafka.MockClusterNew(host, brokers), brokers);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Creates <paramref name="name"/> with <paramref name="partitions"/> partitions (the admin API cannot do this on the mock).</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, BrokerCount);
        Interop.Librdkafka.MockTopicCreate(_cluster, name, partitions, replicationFactor);
    }

    /// <summary>Makes <paramref name="brokerId"/> lead <paramref name="partition"/> of <paramref name="topic"/>; -1 leaves it leaderless.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Interop.Librdkafka.MockPartitionSetLeader(_cluster, topic, partition, brokerId);

    /// <summary>Makes every request about <paramref name="topic"/> fail with <paramref name="error"/> (<see cref="ErrorCode.NoError"/> clears it).</summary>
    public void SetTopicError(string topic, ErrorCode error) =>
        Interop.Librdkafka.MockTopicSetError(_cluster, topic, (int)error);

    /// <summary>
    /// Held while a broker goes down; a process that runs a dev cluster must start its child processes under it too.
    /// Taking a broker down closes its listening socket and binds its port again at once (not listening, so that
    /// connections are refused), and librdkafka aborts the whole process when that bind fails. It fails when a child
    /// is being started at that moment: between fork and exec the child holds a copy of every open descriptor, close-
    /// on-exec ones included, so the listener lives on in it for those microseconds and the port is still in use. A
    /// loop of brokers going down and up beside a loop of process starts aborted within 100 cycles without this gate.
    /// </summary>
    public static Lock ChildProcessGate { get; } = new();

    /// <summary>Takes a broker down: its connections close and new ones are refused until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId)
    {
        int id = CheckBroker(brokerId);
        lock (ChildProcessGate)
        {
            Interop.Librdkafka.MockBrokerSetDown(_cluster, id);
        }
    }

    public void SetBrokerUp(int brokerId) => Interop.Librdkafka.MockBrokerSetUp(_cluster, CheckBroker(brokerId));

    public void SetAllBrokersDown()
    {
        for (int id = 1; id <= BrokerCount; id++)
        {
            SetBrokerDown(id);
        }
    }

    public void SetAllBrokersUp()
    {
        for (int id = 1; id <= BrokerCount; id++)
        {
            SetBrokerUp(id);
        }
    }

    /// <summary>Delays every response of <paramref name="brokerId"/> by <paramref name="rtt"/>.</summary>
    public void SetBrokerRtt(int brokerId, TimeSpan rtt) =>
        Interop.Librdkafka.MockBrokerSetRtt(_cluster, CheckBroker(brokerId), checked((int)rtt.TotalMilliseconds));

    /// <summary>
    /// The next <c>errors.Length</c> requests of <paramref name="apiKey"/> (see <see cref="KafkaApiKey"/>), to any
    /// broker, are answered with these errors in order; the request is not processed.
    /// </summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        Span<int> codes = errors.Length <= 64 ? stackalloc int[errors.Length] : new int[errors.Length];
        for (int i = 0; i < errors.Length; i++)
        {
            codes[i] = (int)errors[i];
        }

        Interop.Librdkafka.MockPushRequestErrors(_cluster, apiKey, codes);
    }

    /// <summary>Drops the errors still queued for <paramref name="apiKey"/>.</summary>
    public void ClearRequestErrors(short apiKey) => Interop.Librdkafka.MockClearRequestErrors(_cluster, apiKey);

    /// <summary>Makes <paramref name="brokerId"/> the coordinator of a group (<paramref name="keyType"/> "group") or transactional id ("transaction").</summary>
    public void SetCoordinator(string keyType, string key, int brokerId) =>
        Interop.Librdkafka.MockCoordinatorSet(_cluster, keyType, key, brokerId);

    /// <summary>Limits the versions the brokers advertise for <paramref name="apiKey"/>; -1, -1 disables the API.</summary>
    public void SetApiVersion(short apiKey, short minVersion, short maxVersion) =>
        Interop.Librdkafka.MockSetApiVersion(_cluster, apiKey, minVersion, maxVersion);

    /// <summary>Stops the brokers and frees everything they stored.</summary>
    public void Dispose()
    {
        if (_cluster.IsClosed)
        {
            return;
        }

        _cluster.Dispose();
        _host.Dispose();
        ReservedPorts.Remove(_reservation);
    }

    private int CheckBroker(int brokerId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerId, BrokerCount);
        return brokerId;
    }
}

/// <summary>Kafka protocol API keys, for <see cref="KafkaDevCluster.PushRequestErrors"/> and <see cref="KafkaDevCluster.SetApiVersion"/>.</summary>
public static class KafkaApiKey
{
    public const short Produce = 0;
    public const short Fetch = 1;
    public const short ListOffsets = 2;
    public const short Metadata = 3;
    public const short OffsetCommit = 8;
    public const short OffsetFetch = 9;
    public const short FindCoordinator = 10;
    public const short JoinGroup = 11;
    public const short Heartbeat = 12;
    public const short SyncGroup = 14;
    public const short InitProducerId = 22;
}
