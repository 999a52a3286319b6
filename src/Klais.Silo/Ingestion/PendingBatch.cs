using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Klais.Silo.Ingestion;

/// <summary>
/// One handled batch: the offsets it covers, and the grain calls still to make durable before they may be committed.
/// Those are flushes of grains that took their reports but could not write them (the store failed), and whole calls
/// that failed and must be made again.
/// </summary>
internal sealed class PendingBatch
{
    private readonly Dictionary<TopicPartition, Offset> _next = [];
    private readonly ConcurrentQueue<(string? Grain, Func<Task<bool>> Call)> _retries = new();

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

    /// <summary>A grain holding changes of this batch unwritten: one successful flush of it makes them durable.</summary>
    public void Flush(string grain, Func<Task<bool>> flush) => _retries.Enqueue((grain, flush));

    /// <summary>A call that failed outright: made again whole.</summary>
    public void Retry(Func<Task<bool>> call) => _retries.Enqueue((null, call));

    /// <summary>
    /// Runs every retry once; those still not durable stay. True when the batch is durable now. A grain already
    /// flushed in this <paramref name="round"/> (over batches all dispatched before the round began) is not flushed
    /// again: that write covered this batch's changes too.
    /// </summary>
    public async Task<bool> RetryAsync(Dictionary<string, Task<bool>> round)
    {
        int count = _retries.Count;
        var results = new List<((string? Grain, Func<Task<bool>> Call) Retry, Task<bool> Outcome)>(count);
        for (int i = 0; i < count && _retries.TryDequeue(out (string? Grain, Func<Task<bool>> Call) retry); i++)
        {
            Task<bool> outcome;
            if (retry.Grain is null)
            {
                outcome = Safe(retry.Call);
            }
            else if (!round.TryGetValue(retry.Grain, out outcome!))
            {
                round[retry.Grain] = outcome = Safe(retry.Call);
            }

            results.Add((retry, outcome));
        }

        foreach (((string? Grain, Func<Task<bool>> Call) retry, Task<bool> outcome) in results)
        {
            if (!await outcome)
            {
                _retries.Enqueue(retry);
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
