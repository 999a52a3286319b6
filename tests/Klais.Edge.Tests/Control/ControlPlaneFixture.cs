using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Contracts.Wire;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains;
using Klais.Kafka;
using Klais.Silo.Configuration;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.Edge.Tests.Control;

/// <summary>
/// One dev cluster with the control plane's topics and, on demand (<see cref="WaitServingAsync"/>), one in-process
/// klais-silo in development mode (Orleans with localhost clustering, state in memory; quorum 2, controller every
/// 200 ms), shared by the tests of a class: a silo's first group join on the mock takes seconds. The silo's burst model
/// is a copy of the shipped one in a directory of the fixture's own (<see cref="BurstModelPath"/>), looked at every
/// 200 ms, so a test can break and repair it without touching another class's silo.
/// </summary>
public sealed class ControlPlaneFixture : IDisposable
{
    public const string Topic = "iot_telemetry";

    /// <summary>The control-plane test classes run one after another: their latency bounds need the two cores.</summary>
    public const string Collection = "control-plane";

    private readonly Lazy<Task<KlaisSilo>> _silo;

    private readonly string _modelDirectory = Directory.CreateTempSubdirectory("klais-model-").FullName;

    public ControlPlaneFixture()
    {
        BurstModelPath = Path.Combine(_modelDirectory, "burst.onnx");
        File.Copy(BurstModelOptions.ShippedModel, BurstModelPath);
        Cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(Cluster, reportPartitions: 4);
        Cluster.CreateTopic(Topic, partitions: 2);
        _silo = new Lazy<Task<KlaisSilo>>(() => KlaisSilo.StartAsync(new SiloConfig
        {
            SiloId = "s1",
            KafkaBootstrap = Cluster.BootstrapServers,
            ApiBind = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            SiloPort = 0,
            GatewayPort = 0,
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            Ingestion = new IngestionOptions { SessionTimeout = TimeSpan.FromSeconds(3), HeartbeatInterval = TimeSpan.FromMilliseconds(500), MaxWait = TimeSpan.FromMilliseconds(50) },
            Consensus = new ConsensusOptions { Quorum = 2 },
            Controller = new ControllerOptions { Interval = TimeSpan.FromMilliseconds(200) },
            BurstModel = new BurstModelOptions { Path = BurstModelPath, RecheckInterval = TimeSpan.FromMilliseconds(200) },
        }));
    }

    /// <summary>The silo's KLAIS_BURST_MODEL: at first a copy of the shipped model.</summary>
    public string BurstModelPath { get; }

    /// <summary>The in-process silo's API, e.g. http://127.0.0.1:40123 (started on first use).</summary>
    internal async Task<string> SiloUrlAsync() => (await _silo.Value).ApiUrl;

    public KafkaDevCluster Cluster { get; }

    public string Bootstrap => Cluster.BootstrapServers;

    /// <summary>The in-process silo's grains (started on first use).</summary>
    internal IGrainFactory Grains => _silo.Value.GetAwaiter().GetResult().Services.GetRequiredService<IGrainFactory>();

    /// <summary>Starts the in-process silo if needed and waits (bounded) until it consumes every partition of klais.reports: its first join takes seconds.</summary>
    internal async Task WaitServingAsync()
    {
        KlaisSilo silo = await _silo.Value;
        IngestionStatus status = silo.Services.GetRequiredService<IngestionStatus>();
        Assert.True(await Klais.Testing.Eventually.TrueAsync(() => status.Partitions == 4, TimeSpan.FromSeconds(30)), "the silo does not consume klais.reports");
    }

    /// <summary>A device's state in its grain, or null when no edge reported it.</summary>
    internal Task<DeviceSnapshot?> DeviceAsync(string id) => Grains.GetGrain<IDeviceGrain>(id).Describe();

    /// <summary>An in-process edge with reporting and control on, reports every 200 ms.</summary>
    internal Task<EdgeHarness> StartEdgeAsync(string nodeId, params (string Name, string Value)[] overrides) =>
        EdgeHarness.StartAsync(EdgeConfig(nodeId, overrides));

    /// <summary>The settings of <see cref="StartEdgeAsync"/>'s edges.</summary>
    internal Klais.Edge.Configuration.EdgeConfig EdgeConfig(string nodeId, params (string Name, string Value)[] overrides) =>
        EdgeHarness.Config(Bootstrap, Topic, [
            ("KLAIS_CONTROL", "on"), ("KLAIS_NODE_ID", nodeId), ("KLAIS_REPORT_INTERVAL_MS", "200"),
            ("KLAIS_DEVICE_REPORT_WINDOW_MS", "1000"), ("KLAIS_SUSPECT_RATE", "300"), ("KLAIS_DAM_MAX_RATE", "100000"),
            ("KLAIS_DAM_BURST_SIZE", "100000"), .. overrides]);

    /// <summary>Writes one record to klais.control as a silo would.</summary>
    internal void WriteControl(string key, ControlUpdate update)
    {
        using IProducer<byte[], byte[]> producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = Bootstrap }).Build();
        update.SchemaVersion = Schema.Current;
        producer.Produce(ControlPlaneTopics.Control, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = update.ToByteArray() });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Removes a key from klais.control (a tombstone), as a silo withdrawing an update.</summary>
    internal void WriteTombstone(string key)
    {
        using IProducer<byte[], byte[]?> producer = new ProducerBuilder<byte[], byte[]?>(new ProducerConfig { BootstrapServers = Bootstrap }).Build();
        producer.Produce(ControlPlaneTopics.Control, new Message<byte[], byte[]?> { Key = Encoding.UTF8.GetBytes(key), Value = null });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Sends <paramref name="count"/> datagrams of <paramref name="deviceId"/> to the edge.</summary>
    internal static void Flood(EdgeHarness edge, string deviceId, int count, uint firstSequence = 1)
    {
        Span<byte> buffer = stackalloc byte[64];
        byte[] id = Encoding.UTF8.GetBytes(deviceId);
        for (uint i = 0; i < count; i++)
        {
            int length = Datagram.Write(buffer, id, firstSequence + i, "{\"t\":1}"u8);
            edge.Send(buffer[..length]);
        }
    }

    /// <summary>
    /// Sends <paramref name="perSource"/> datagrams of <paramref name="deviceId"/> to the edge from each loopback address
    /// in <paramref name="sources"/> (127.0.0.0/8 all reaches lo): one id arriving from many addresses.
    /// </summary>
    internal static uint FloodFrom(EdgeHarness edge, string deviceId, IEnumerable<string> sources, int perSource, uint firstSequence = 1)
    {
        Span<byte> buffer = stackalloc byte[64];
        byte[] id = Encoding.UTF8.GetBytes(deviceId);
        uint sequence = firstSequence;
        foreach (string source in sources)
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(source), 0));
            for (int i = 0; i < perSource; i++)
            {
                int length = Datagram.Write(buffer, id, sequence++, "{\"t\":1}"u8);
                socket.SendTo(buffer[..length], System.Net.Sockets.SocketFlags.None, edge.Node.Receiver.LocalEndPoint);
            }
        }

        return sequence;
    }

    public void Dispose()
    {
        if (_silo.IsValueCreated)
        {
            _silo.Value.GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        Cluster.Dispose();
        Directory.Delete(_modelDirectory, recursive: true);
    }
}

// Alone: its tests assert latencies (block propagation, consensus), which other test classes running at the same
// time on a two-core machine would measure instead.
[CollectionDefinition(ControlPlaneFixture.Collection, DisableParallelization = true)]
public sealed class ControlPlaneTestGroup;
