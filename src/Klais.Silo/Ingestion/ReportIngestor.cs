using System.Diagnostics;
using Confluent.Kafka;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Kafka;
using Klais.Silo.Configuration;
using Orleans.Runtime;

namespace Klais.Silo.Ingestion;

/// <summary>
/// The silo's hosted Kafka consumer: a member of group klais-silos on klais.reports. Each batch (up to
/// <see cref="IngestionOptions.MaxBatch"/> records or <see cref="IngestionOptions.MaxWait"/>) becomes one call per
/// device grain and per node report; the grains apply and write their state before they answer. Offsets are
/// committed only up to the last batch whose every call returned durable; a batch whose writes failed keeps its
/// offsets back while consumption goes on, and its grains are flushed (or its reports applied again, which a grain's
/// per-source sequences make harmless) until they are durable. So a crash re-delivers at most the uncommitted
/// batches, which change nothing twice, and loses nothing acknowledged.
/// </summary>
internal sealed partial class ReportIngestor(
    IGrainFactory grains,
    SiloConfig config,
    string bootstrapServers,
    ILocalSiloDetails silo,
    IngestionStatus status,
    TimeProvider time,
    ILogger<ReportIngestor> logger) : BackgroundService
{
    /// <summary>Once a batch has a record, how long it waits for the next one before it is dispatched.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);

    /// <summary>How long a batch waits for one grain's answer before it goes on and retries that grain later.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    private readonly IngestionOptions _options = config.Ingestion;
    private readonly Queue<PendingBatch> _pending = new();
    private readonly SiloAggregator _aggregator = new();
    private long _nextAggregateMs;
    private long _nextRetryMs;
    private Task? _retrying;

    /// <summary>The distinct record keys (device or node) of the batch being polled.</summary>
    private readonly HashSet<byte[]> _batchKeys = new(KeyComparer.Instance);

    /// <summary>A record consumed past the device bound of the last batch: the first of the next.</summary>
    private ConsumeResult<byte[], byte[]>? _carried;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken stop)
    {
        using IConsumer<byte[], byte[]> consumer = BuildConsumer();
        consumer.Subscribe(ControlPlaneTopics.Reports);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (_pending.Count < _options.MaxPendingBatches)
                {
                    List<ConsumeResult<byte[], byte[]>> records = Poll(consumer, stop);
                    if (records.Count > 0)
                    {
                        _pending.Enqueue(await DispatchAsync(records));
                    }
                }
                else
                {
                    await Task.Delay(_options.MaxWait, time, stop);
                }

                await RetryInBackgroundAsync();
                CommitDurable(consumer);
                await ContributeAsync();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex);
            status.LastProblem = "ingestion stopped: " + ex.Message;
            throw;
        }

        // A clean stop: one more try to make the pending batches durable, commit what is, leave the group.
        if (_retrying is not null)
        {
            await _retrying;
        }

        await RetryHeadAsync([.. _pending]);
        CommitDurable(consumer);
        consumer.Close();
    }

    private IConsumer<byte[], byte[]> BuildConsumer()
    {
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = ControlPlaneTopics.SiloGroup,
            ClientId = "klais-silo-" + silo.Name,
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = (int)_options.HeartbeatInterval.TotalMilliseconds,
            MaxPollIntervalMs = 300_000,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin,
        };
        if (_options.StaticMembership)
        {
            consumerConfig.GroupInstanceId = silo.Name;
        }

        return new ConsumerBuilder<byte[], byte[]>(consumerConfig)
            .SetErrorHandler((_, e) => LogKafka(logger, e.Reason))
            .SetLogHandler((_, m) => LogLibrdkafka(logger, m.Level, m.Facility, m.Message))
            .SetPartitionsAssignedHandler((c, assigned) =>
            {
                Volatile.Write(ref status.AssignedPartitions, c.Assignment.Count + assigned.Count);
                LogAssigned(logger, string.Join(",", assigned.Select(p => p.Partition.Value)));
            })
            .SetPartitionsRevokedHandler((c, revoked) =>
            {
                // What is durable is committed while the partitions are still ours; the rest is re-read by the next owner.
                CommitDurable(c);
                Volatile.Write(ref status.AssignedPartitions, Math.Max(0, c.Assignment.Count - revoked.Count));
                LogRevoked(logger, string.Join(",", revoked.Select(p => p.Partition.Value)));
            })
            .Build();
    }

    /// <summary>
    /// A batch: waits up to <see cref="IngestionOptions.MaxWait"/> for the first record, then takes what librdkafka
    /// has fetched already (a 5 ms wait at most per record) up to <see cref="IngestionOptions.MaxBatch"/> records and
    /// <see cref="IngestionOptions.MaxBatchDevices"/> distinct keys (the record that would pass the second bound opens the
    /// next batch). At low load a report (a vote) is dispatched at once; under a backlog batches grow, and with them the
    /// reports each grain write covers.
    /// </summary>
    private List<ConsumeResult<byte[], byte[]>> Poll(IConsumer<byte[], byte[]> consumer, CancellationToken stop)
    {
        var records = new List<ConsumeResult<byte[], byte[]>>();
        _batchKeys.Clear();
        TimeSpan wait = _options.MaxWait;
        if (_carried is not null)
        {
            records.Add(_carried);
            _batchKeys.Add(_carried.Message.Key ?? []);
            _carried = null;
            wait = Linger;
        }

        while (records.Count < _options.MaxBatch && !stop.IsCancellationRequested)
        {
            ConsumeResult<byte[], byte[]>? result = consumer.Consume(wait);
            if (result is null)
            {
                break;
            }

            if (result.IsPartitionEOF)
            {
                continue;
            }

            if (_batchKeys.Add(result.Message.Key ?? []) && _batchKeys.Count > _options.MaxBatchDevices)
            {
                _carried = result;
                break;
            }

            records.Add(result);
            wait = Linger;
        }

        Interlocked.Add(ref status.Consumed, records.Count);
        return records;
    }

    /// <summary>Groups a batch by grain and calls every grain at once; returns what must become durable before its offsets are committed.</summary>
    private async Task<PendingBatch> DispatchAsync(List<ConsumeResult<byte[], byte[]>> records)
    {
        var batch = new PendingBatch();
        var devices = new Dictionary<string, List<DeviceObservation>>(StringComparer.Ordinal);
        var nodes = new Dictionary<string, List<NodeObservation>>(StringComparer.Ordinal);
        foreach (ConsumeResult<byte[], byte[]> record in records)
        {
            batch.See(record.TopicPartitionOffset);
            if (!ReportMapping.TryRead(record.Message.Value, out ReportEnvelope? envelope, out string? problem))
            {
                Interlocked.Increment(ref status.Rejected);
                status.LastProblem = $"{record.TopicPartitionOffset}: {problem}";
                continue;
            }

            switch (envelope.BodyCase)
            {
                case ReportEnvelope.BodyOneofCase.Device when GrainKeys.IsValidId(envelope.Device.DeviceId):
                    DeviceObservation observation = ReportMapping.ToObservation(envelope);
                    _aggregator.Add(envelope.Device.DeviceId, observation);
                    (devices.TryGetValue(envelope.Device.DeviceId, out var list) ? list : devices[envelope.Device.DeviceId] = []).Add(observation);
                    break;
                case ReportEnvelope.BodyOneofCase.Node when GrainKeys.IsValidId(envelope.Node.NodeId):
                    (nodes.TryGetValue(envelope.Node.NodeId, out var reports) ? reports : nodes[envelope.Node.NodeId] = []).Add(ReportMapping.ToObservation(envelope.SourceId, envelope.Sequence, envelope.Node));
                    break;
                default:
                    Interlocked.Increment(ref status.Rejected);
                    status.LastProblem = $"{record.TopicPartitionOffset}: no device or node report with a valid id";
                    break;
            }
        }

        var calls = new List<Task>(devices.Count + nodes.Count);
        foreach ((string id, List<DeviceObservation> reports) in devices)
        {
            IDeviceGrain grain = grains.GetGrain<IDeviceGrain>(id);
            calls.Add(Track(batch, "device/" + id, () => grain.Apply(reports), grain.Flush));
        }

        foreach ((string id, List<NodeObservation> reports) in nodes)
        {
            INodeGrain grain = grains.GetGrain<INodeGrain>(id);
            calls.Add(Track(batch, "node/" + id, async () =>
            {
                var total = new ApplyResult(0, true);
                foreach (NodeObservation report in reports)
                {
                    ApplyResult one = await grain.Apply(report);
                    total = new ApplyResult(total.Applied + one.Applied, total.Durable && one.Durable);
                }

                return total;
            }, grain.Flush));
        }

        await Task.WhenAll(calls);
        Interlocked.Increment(ref status.Batches);

        return batch;
    }

    /// <summary>
    /// Runs one grain call of a batch. A call that returned but is not durable is retried with <paramref name="flush"/>;
    /// one that failed outright (silo unreachable) is retried whole, since it may not have been applied. A call past
    /// <see cref="CallTimeout"/> may still be queued at a busy grain or silo: its first retry waits for that call
    /// instead of sending the same reports again (re-sending is what turns an overloaded silo into a stuck one).
    /// </summary>
    private async Task Track(PendingBatch batch, string grain, Func<Task<ApplyResult>> apply, Func<Task<bool>> flush)
    {
        Task<ApplyResult> call = apply();
        try
        {
            // Bounded: one grain that does not answer must not hold up the batch, and with it the whole partition.
            ApplyResult result = await call.WaitAsync(CallTimeout);
            Interlocked.Add(ref status.Applied, result.Applied);
            if (!result.Durable)
            {
                batch.Flush(grain, flush);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Interlocked.Increment(ref status.CallFailures);
            status.LastProblem = $"{grain}: {ex.GetType().Name}: {ex.Message}";
            LogCallFailed(logger, grain, ex);
            Task<ApplyResult>? outstanding = ex is TimeoutException ? call : null;
            batch.Retry(async () =>
            {
                Task<ApplyResult> attempt = outstanding ?? apply();
                outstanding = null;
                ApplyResult result = await attempt;
                Interlocked.Add(ref status.Applied, result.Applied);
                return result.Durable;
            });
        }
    }

    /// <summary>
    /// At most once a second, and never twice at once, retries the calls not yet durable in the background: while the
    /// store is away each try waits for its timeout, and consumption must go on meanwhile.
    /// </summary>
    private async Task RetryInBackgroundAsync()
    {
        if (_retrying is { IsCompleted: false })
        {
            return;
        }

        if (_retrying is not null)
        {
            await _retrying;
            _retrying = null;
        }

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now >= _nextRetryMs && _pending.Any(b => !b.Durable))
        {
            _nextRetryMs = now + 1000;
            _retrying = RetryHeadAsync([.. _pending]);
        }
    }

    /// <summary>Retries the not-yet-durable calls of the oldest batches, in order, until one still fails.</summary>
    private static async Task RetryHeadAsync(PendingBatch[] pending)
    {
        var round = new Dictionary<string, Task<bool>>(StringComparer.Ordinal);
        foreach (PendingBatch batch in pending)
        {
            if (!await batch.RetryAsync(round))
            {
                return;
            }
        }
    }

    private void CommitDurable(IConsumer<byte[], byte[]> consumer)
    {
        var offsets = new Dictionary<TopicPartition, Offset>();
        while (_pending.TryPeek(out PendingBatch? head) && head.Durable)
        {
            _pending.Dequeue();
            foreach ((TopicPartition partition, Offset next) in head.NextOffsets)
            {
                offsets[partition] = next;
            }
        }

        Volatile.Write(ref status.PendingBatches, _pending.Count);
        var mine = offsets.Where(o => consumer.Assignment.Contains(o.Key)).Select(o => new TopicPartitionOffset(o.Key, o.Value)).ToList();
        if (mine.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Commit(mine);
            Interlocked.Increment(ref status.Commits);
        }
        catch (KafkaException ex)
        {
            // Lost the partitions in a rebalance, or the broker is away: the next owner re-reads from the last commit.
            Interlocked.Increment(ref status.CommitFailures);
            status.LastProblem = "offset commit failed: " + ex.Error.Reason;
            LogCommitFailed(logger, ex.Error.Reason);
        }
    }

    /// <summary>Every control interval, what this silo ingested goes to the swarm grain.</summary>
    private async Task ContributeAsync()
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now < _nextAggregateMs)
        {
            return;
        }

        long interval = (long)config.Controller.Interval.TotalMilliseconds;
        _nextAggregateMs = now + interval;
        SiloAggregate aggregate = _aggregator.Take(silo.Name, now, interval);
        try
        {
            await grains.GetGrain<ISwarmGrain>(GrainKeys.Fleet).Contribute(aggregate);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            status.LastProblem = "swarm aggregate not delivered: " + ex.Message;
        }
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Ingestion: klais.reports partitions [{Partitions}] assigned")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Ingestion: klais.reports partitions [{Partitions}] revoked")]
    private static partial void LogRevoked(ILogger logger, string partitions);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Ingestion: offset commit failed ({Reason}); the next owner re-reads from the previous commit")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "Kafka: {Reason}")]
    private static partial void LogKafka(ILogger logger, string reason);

    [LoggerMessage(EventId = 205, Level = LogLevel.Debug, Message = "librdkafka {Level} {Facility}: {Message}")]
    private static partial void LogLibrdkafka(ILogger logger, SyslogLevel level, string facility, string message);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "Ingestion: {Grain} did not take its reports; retried later")]
    private static partial void LogCallFailed(ILogger logger, string grain, Exception ex);

    [LoggerMessage(EventId = 206, Level = LogLevel.Critical, Message = "Ingestion failed")]
    private static partial void LogFailed(ILogger logger, Exception ex);

    /// <summary>Record keys compared by content, hashed without copying.</summary>
    private sealed class KeyComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key)
        {
            var hash = default(HashCode);
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
