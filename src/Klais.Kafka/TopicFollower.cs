using System.Diagnostics;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>
/// Reads every partition of a topic from the beginning and then follows it, without a consumer group: the way
/// every edge follows klais.control (a compacted topic whose whole content
/// is the current state). Records arrive on one background thread, in order within a partition.
/// <see cref="CaughtUp"/> completes once every partition was read up to the end it had when following began.
/// </summary>
public sealed class TopicFollower : IDisposable
{
    private readonly string _bootstrapServers;
    private readonly string _topic;
    private readonly Action<TopicRecord> _onRecord;
    private readonly Action<string>? _onError;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _thread;

    /// <summary>How long the start keeps asking for the topic's partitions and ends: the caller decides how long to wait for <see cref="CaughtUp"/>.</summary>
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Dispose's bound on the wait for the thread (see <see cref="Stop"/>).</summary>
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(2);

    public TopicFollower(string bootstrapServers, string topic, Action<TopicRecord> onRecord, Action<string>? onError = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _bootstrapServers = bootstrapServers;
        _topic = topic;
        _onRecord = onRecord;
        _onError = onError;
    }

    /// <summary>Completes when the content present at start has been delivered; faults if following failed first.</summary>
    public Task CaughtUp => _caughtUp.Task;

    /// <summary>Records delivered so far.</summary>
    public long Records => Interlocked.Read(ref _records);

    private long _records;

    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("The follower is already started.");
        }

        Librdkafka.EnsureLoaded();
        _thread = new Thread(Run) { IsBackground = true, Name = "follow " + _topic };
        _thread.Start();
    }

    private void Run()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _bootstrapServers,
            GroupId = "klais-follower", // required by the client, unused: partitions are assigned, never committed
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            FetchWaitMaxMs = 50, // followers want updates promptly; traffic on these topics is small
        };
        try
        {
            using IConsumer<byte[]?, byte[]?> consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
                .SetLogHandler((_, _) => { })
                .SetErrorHandler((_, e) => _onError?.Invoke($"{_topic}: {e.Reason}"))
                .Build();
            List<int> partitions = TopicPartitions.Get(consumer.Handle, _topic, MetadataTimeout, _stop.Token);
            var ends = new Dictionary<int, long>();
            foreach (int p in partitions)
            {
                WatermarkOffsets w = HighWatermark(consumer, new TopicPartition(_topic, p));
                if (w.High.Value > 0)
                {
                    ends[p] = w.High.Value;
                }
            }

            consumer.Assign(partitions.Select(p => new TopicPartitionOffset(_topic, p, Offset.Beginning)));
            if (ends.Count == 0)
            {
                _caughtUp.TrySetResult();
            }

            while (!_stop.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? result = consumer.Consume(100);
                if (result is null || result.IsPartitionEOF)
                {
                    continue;
                }

                _onRecord(TopicReader.ToRecord(result));
                Interlocked.Increment(ref _records);
                if (ends.Count > 0 && ends.TryGetValue(result.Partition.Value, out long end) && result.Offset.Value + 1 >= end)
                {
                    ends.Remove(result.Partition.Value);
                    if (ends.Count == 0)
                    {
                        _caughtUp.TrySetResult();
                    }
                }
            }

            consumer.Close();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _caughtUp.TrySetCanceled(_stop.Token);
        }
        catch (Exception ex) when (ex is KafkaException or TimeoutException or InvalidOperationException)
        {
            _onError?.Invoke($"{_topic}: following stopped: {ex.Message}");
            _caughtUp.TrySetException(ex);
        }
    }

    /// <summary>
    /// The partition's high watermark, asked in slices of <see cref="TopicPartitions.CancelSlice"/> up to
    /// <see cref="MetadataTimeout"/>, so that a stop during a broker outage is noticed within a slice.
    /// </summary>
    private WatermarkOffsets HighWatermark(IConsumer<byte[]?, byte[]?> consumer, TopicPartition partition)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            _stop.Token.ThrowIfCancellationRequested();
            try
            {
                return consumer.QueryWatermarkOffsets(partition, TopicPartitions.CancelSlice);
            }
            catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_TimedOut && elapsed.Elapsed < MetadataTimeout)
            {
            }
        }
    }

    /// <summary>
    /// Stops following. Waits at most <paramref name="timeout"/> for the thread: it notices the stop within a slice
    /// (<see cref="TopicPartitions.CancelSlice"/>) or a consume poll (100 ms), unless librdkafka itself blocks on
    /// brokers that do not answer; a background thread does not hold the process. True when the thread ended.
    /// </summary>
    public bool Stop(TimeSpan timeout)
    {
        _stop.Cancel();
        return _thread is null || _thread.Join(timeout);
    }

    public void Dispose()
    {
        if (Stop(DisposeTimeout))
        {
            _stop.Dispose();
        }
    }
}
