using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Klais.Silo.Ingestion;

/// <summary>One handled batch: the offsets it covers, and the grain calls still to make durable before they may be committed.</summary>
internal sealed class PendingBatch
{
    private readonly Dictionary<TopicPartition, Offset> _next = [];
    private readonly ConcurrentQueue<Func<Task<bool>>> _retries = new();

    public IReadOnlyDictionary<TopicPartition, Offset> NextOffsets => _next;

    public bool Durable => _retries.IsEmpty;

    public void See(TopicPartitionOffset record)
    {
        Offset next = record.Offset + 1;
        if (!_next.TryGetValue(record.TopicPartition, out Offset held) || held < next)
        {
            _next[record.TopicPartition] = next;
        }
    }

    public void Retry(Func<Task<bool>> call) => _retries.Enqueue(call);

    /// <summary>Runs every retry once; those still not durable stay. True when the batch is durable now.</summary>
    public async Task<bool> RetryAsync()
    {
        int count = _retries.Count;
        var results = new List<(Func<Task<bool>> Call, Task<bool> Outcome)>(count);
        for (int i = 0; i < count && _retries.TryDequeue(out Func<Task<bool>>? call); i++)
        {
            results.Add((call, Safe(call)));
        }

        foreach ((Func<Task<bool>> call, Task<bool> outcome) in results)
        {
            if (!await outcome)
            {
                _retries.Enqueue(call);
            }
        }

        return Durable;
    }

    private static async Task<bool> Safe(Func<Task<bool>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }
}
