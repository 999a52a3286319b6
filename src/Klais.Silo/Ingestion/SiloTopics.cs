using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Klais.Contracts.Proto;
using Klais.Kafka;

namespace Klais.Silo.Ingestion;

/// <summary>Creates and checks the control plane's two topics: klais.reports and klais.control (compacted).</summary>
internal static class SiloTopics
{
    /// <summary>Creates both topics on a dev (mock) cluster, whose admin API cannot.</summary>
    public static void CreateOnDevCluster(KafkaDevCluster cluster, int reportPartitions = ControlPlaneTopics.DefaultReportPartitions)
    {
        cluster.CreateTopic(ControlPlaneTopics.Reports, reportPartitions);
        cluster.CreateTopic(ControlPlaneTopics.Control, ControlPlaneTopics.DefaultSmallTopicPartitions);
    }

    /// <summary>
    /// Creates whichever topic is missing through the admin API (klais.control compacted). Returns the problems; the
    /// mock cluster never answers CreateTopics, so there this reports a timeout.
    /// </summary>
    public static IReadOnlyList<string> EnsureExist(string bootstrapServers, int reportPartitions, TimeSpan timeout)
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
            new() { Name = ControlPlaneTopics.Reports, NumPartitions = reportPartitions, ReplicationFactor = -1 },
            new() { Name = ControlPlaneTopics.Control, NumPartitions = 1, ReplicationFactor = -1, Configs = new(ControlPlaneTopics.CompactedConfig) },
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
                + $"({ControlPlaneTopics.Control} compacted), or on a dev cluster: klais-devcluster --topic {ControlPlaneTopics.Reports}:12 --topic {ControlPlaneTopics.Control}:1."];
        }
    }
}
