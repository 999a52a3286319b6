using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Klais.Contracts.Proto;
using Klais.Kafka;

namespace Klais.Grains.Runtime;

/// <summary>Creates and checks the control plane's topics.</summary>
public static class SiloTopics
{
    /// <summary>Creates the four topics on a dev (mock) cluster, whose admin API cannot.</summary>
    public static void CreateOnDevCluster(KafkaDevCluster cluster, int reportPartitions = ControlPlaneTopics.DefaultReportPartitions)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        cluster.CreateTopic(ControlPlaneTopics.Reports, reportPartitions);
        cluster.CreateTopic(ControlPlaneTopics.GrainState, reportPartitions);
        cluster.CreateTopic(ControlPlaneTopics.Control, ControlPlaneTopics.DefaultSmallTopicPartitions);
        cluster.CreateTopic(ControlPlaneTopics.Silos, ControlPlaneTopics.DefaultSmallTopicPartitions);
    }

    /// <summary>
    /// Creates whichever of the four topics are missing through the admin API (compacted where they should be).
    /// Returns the problems; the mock cluster never answers CreateTopics, so there this reports a timeout.
    /// </summary>
    public static IReadOnlyList<string> EnsureExist(string bootstrapServers, int reportPartitions, short replication, TimeSpan timeout)
    {
        Librdkafka.EnsureLoaded();
        using IAdminClient admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers })
            .SetLogHandler((_, _) => { }).Build();
        HashSet<string> existing;
        try
        {
            existing = admin.GetMetadata(timeout).Topics.Where(t => !t.Error.IsError).Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
        }
        catch (KafkaException ex)
        {
            return [$"Kafka at {bootstrapServers} did not answer a metadata request: {ex.Error.Reason}."];
        }

        var wanted = new List<TopicSpecification>
        {
            new() { Name = ControlPlaneTopics.Reports, NumPartitions = reportPartitions, ReplicationFactor = replication },
            new() { Name = ControlPlaneTopics.GrainState, NumPartitions = reportPartitions, ReplicationFactor = replication, Configs = Compacted() },
            new() { Name = ControlPlaneTopics.Control, NumPartitions = 1, ReplicationFactor = replication, Configs = Compacted() },
            new() { Name = ControlPlaneTopics.Silos, NumPartitions = 1, ReplicationFactor = replication, Configs = Compacted() },
        };
        List<TopicSpecification> missing = wanted.Where(t => !existing.Contains(t.Name)).ToList();
        if (missing.Count == 0)
        {
            return [];
        }

        try
        {
            admin.CreateTopicsAsync(missing, new CreateTopicsOptions { OperationTimeout = timeout, RequestTimeout = timeout })
                .WaitAsync(timeout + TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
            return [];
        }
        catch (Exception ex) when (ex is KafkaException or CreateTopicsException or TimeoutException)
        {
            return [$"Could not create {string.Join(", ", missing.Select(t => t.Name))}: {ex.Message}. Create them first "
                + $"({ControlPlaneTopics.Reports} and {ControlPlaneTopics.GrainState} with the same partition count; the others compacted), "
                + "or on a dev cluster: klais-devcluster --topic klais.reports:12 --topic klais.grain-state:12 --topic klais.control:1 --topic klais.silos:1."];
        }
    }

    /// <summary>Partition count of klais.reports, checked to equal klais.grain-state's (a partition's state lives in the partition of the same number).</summary>
    public static int CheckPartitions(Handle handle, TimeSpan timeout)
    {
        int reports = TopicPartitions.Get(handle, ControlPlaneTopics.Reports, timeout).Count;
        int state = TopicPartitions.Get(handle, ControlPlaneTopics.GrainState, timeout).Count;
        if (reports != state)
        {
            throw new InvalidOperationException(
                $"{ControlPlaneTopics.Reports} has {reports} partitions and {ControlPlaneTopics.GrainState} {state}: they must be equal.");
        }

        return reports;
    }

    private static Dictionary<string, string> Compacted() => new(ControlPlaneTopics.CompactedConfig);
}
