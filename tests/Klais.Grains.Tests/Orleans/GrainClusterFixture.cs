using System.Collections.Concurrent;
using Klais.Contracts.Proto;
using Klais.Grains.Control;
using Klais.Grains.Hosting;
using Klais.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Klais.Grains.Tests.Orleans;

/// <summary>
/// Two in-process silos (Orleans.TestingHost: in-memory membership, grain state in memory as protobuf through the
/// same serializer as Redis, in-memory reminders with a 1 s minimum period) hosting the KLAIS grains, quorum 2,
/// control steps every 200 ms. Control updates go to a recording publisher instead of Kafka: these tests are about
/// the grains' decisions, activation and reminders; klais.control itself is tested end to end with real edges.
/// </summary>
public class GrainClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public RecordingControlPublisher Control { get; } = new();

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The device grains' settings; a fixture of its own may change them.</summary>
    protected virtual ConsensusOptions Consensus => new() { Quorum = 2, FloodEdges = 3, FloodRate = 1000, SourceThreshold = 12 };

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage(StorageNames.Grains);
            silo.UseInMemoryReminderService();
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.AddKlaisGrains(
                Consensus,
                new ControllerOptions { Interval = TimeSpan.FromMilliseconds(200), NodeStaleAfter = TimeSpan.FromSeconds(30) });
            silo.Services.AddSingleton<IControlPublisher>(Control);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// The same cluster for the fleet outlier model: device grains send their vector after every report (no 10 s pause), so
/// a test can fill the shards in seconds. A cluster of its own: the forests it fits would vote on other tests' devices.
/// </summary>
public sealed class OutlierClusterFixture : GrainClusterFixture
{
    protected override ConsensusOptions Consensus => base.Consensus with { OutlierInterval = TimeSpan.Zero };
}

/// <summary>Keeps every control update the silos' grains publish, in order.</summary>
public sealed class RecordingControlPublisher : IControlPublisher
{
    private readonly ConcurrentQueue<(string Target, string Key, ControlUpdate Update)> _updates = new();

    public long Published => _updates.Count;

    public IReadOnlyList<(string Target, string Key, ControlUpdate Update)> Updates => [.. _updates];

    public IReadOnlyList<ControlUpdate> For(string key) => _updates.Where(u => u.Key == key).Select(u => u.Update).ToList();

    public Task PublishAsync(string target, string key, ControlUpdate update)
    {
        _updates.Enqueue((target, key, update));
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class GrainClusterGroup : ICollectionFixture<GrainClusterFixture>
{
    public const string Name = "orleans grain cluster";
}
