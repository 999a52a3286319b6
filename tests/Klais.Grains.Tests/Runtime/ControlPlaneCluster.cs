using System.Diagnostics;
using Klais.Contracts.Proto;
using Klais.Grains.Runtime;
using Klais.Kafka;

namespace Klais.Grains.Tests.Runtime;

/// <summary>A mock cluster with the control plane's topics, and helpers to run silos on it and wait for things.</summary>
internal sealed class ControlPlaneCluster : IDisposable
{
    private readonly List<SiloRuntime> _silos = [];

    public ControlPlaneCluster(int partitions = 4)
    {
        Cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(Cluster, partitions);
        Partitions = partitions;
    }

    public KafkaDevCluster Cluster { get; }

    public int Partitions { get; }

    public string Bootstrap => Cluster.BootstrapServers;

    public SiloRuntime StartSilo(string id, ConsensusOptions? consensus = null, ControllerOptions? controller = null)
    {
        var silo = new SiloRuntime(new SiloRuntimeOptions
        {
            SiloId = id,
            BootstrapServers = Bootstrap,
            SessionTimeout = TimeSpan.FromSeconds(3),
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            CheckpointInterval = TimeSpan.FromMilliseconds(200),
            AnnounceInterval = TimeSpan.FromMilliseconds(500),
            Consensus = consensus ?? new ConsensusOptions(),
            Controller = controller ?? new ControllerOptions { Interval = TimeSpan.FromMilliseconds(500) },
        });
        silo.Start();
        _silos.Add(silo);
        return silo;
    }

    public ReportPublisher Publisher(string source) => new(Bootstrap, source);

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < timeout)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }

    public void Dispose()
    {
        foreach (SiloRuntime silo in _silos)
        {
            silo.Dispose();
        }

        Cluster.Dispose();
    }
}
