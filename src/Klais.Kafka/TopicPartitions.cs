using System.Diagnostics;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>Partition ids of a topic, from the cluster's metadata, through any client's handle.</summary>
public static class TopicPartitions
{
    /// <summary>
    /// The partition ids of <paramref name="topic"/>, ascending. Retries until <paramref name="timeout"/>, then throws
    /// <see cref="TimeoutException"/> with the last problem. On the mock cluster a metadata request auto-creates an
    /// unknown topic with 4 partitions: create topics first when the count matters.
    /// </summary>
    public static List<int> Get(Handle clientHandle, string topic, TimeSpan timeout)
    {
        using IAdminClient admin = DependentAdmin.Build(clientHandle);
        var elapsed = Stopwatch.StartNew();
        string problem = "no answer";
        while (timeout - elapsed.Elapsed is { Ticks: > 0 } left)
        {
            try
            {
                TopicMetadata? meta = admin.GetMetadata(topic, left).Topics.FirstOrDefault(t => t.Topic == topic);
                if (meta is { Error.IsError: false, Partitions.Count: > 0 })
                {
                    return meta.Partitions.Select(p => p.PartitionId).Order().ToList();
                }

                problem = meta?.Error.Reason ?? "topic missing from metadata";
            }
            catch (KafkaException ex)
            {
                problem = ex.Error.Reason;
            }
        }

        throw new TimeoutException($"No partitions for topic '{topic}' within {timeout}: {problem}.");
    }
}
