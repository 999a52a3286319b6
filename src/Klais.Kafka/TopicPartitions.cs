using System.Diagnostics;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>Partition ids of a topic, from the cluster's metadata, through any client's handle.</summary>
public static class TopicPartitions
{
    /// <summary>The longest single metadata request when the caller can cancel: how late a cancellation is noticed.</summary>
    public static readonly TimeSpan CancelSlice = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The partition ids of <paramref name="topic"/>, ascending. Retries until <paramref name="timeout"/>, then throws
    /// <see cref="TimeoutException"/> with the last problem. On the mock cluster a metadata request auto-creates an
    /// unknown topic with 4 partitions: create topics first when the count matters.
    /// </summary>
    /// <param name="clientHandle">Any client's handle: the request rides on its connections.</param>
    /// <param name="topic">The topic.</param>
    /// <param name="timeout">How long to keep asking.</param>
    /// <param name="cancellationToken">
    /// Ends the wait within <see cref="CancelSlice"/> (<see cref="OperationCanceledException"/>): a metadata request
    /// cannot be interrupted, so they are made in slices of that length. A process stopping during a broker outage
    /// must not sit out the whole timeout.
    /// </param>
    public static List<int> Get(Handle clientHandle, string topic, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using IAdminClient admin = DependentAdmin.Build(clientHandle);
        var elapsed = Stopwatch.StartNew();
        string problem = "no answer";
        while (timeout - elapsed.Elapsed is { Ticks: > 0 } left)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                TimeSpan slice = cancellationToken.CanBeCanceled && left > CancelSlice ? CancelSlice : left;
                TopicMetadata? meta = admin.GetMetadata(topic, slice).Topics.FirstOrDefault(t => t.Topic == topic);
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
