using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Node;
using Klais.Grains.Swarm;
using Klais.Kafka;
using Microsoft.Extensions.Logging;

namespace Klais.Grains.Runtime;

/// <summary>Counters of one silo, for /api/silos, tests and benchmarks.</summary>
public sealed class SiloCounters
{
    internal long Processed;
    internal long Replays;
    internal long Skipped;
    internal long StateWritten;
    internal long StateFailed;
    internal long Commits;
    internal long CommitFailures;
    internal long Restores;
    internal long FencedRecords;
    internal long Evicted;
    internal long ControlUpdates;

    public long ProcessedRecords => Interlocked.Read(ref Processed);

    public long ReplayedRecords => Interlocked.Read(ref Replays);

    public long SkippedRecords => Interlocked.Read(ref Skipped);

    public long StateRecordsWritten => Interlocked.Read(ref StateWritten);

    public long OffsetCommits => Interlocked.Read(ref Commits);

    public long PartitionRestores => Interlocked.Read(ref Restores);

    public long FencedStateRecords => Interlocked.Read(ref FencedRecords);

    public long EvictedGrains => Interlocked.Read(ref Evicted);

    public long ControlUpdatesWritten => Interlocked.Read(ref ControlUpdates);
}

/// <summary>A partition this silo serves, as the API shows it.</summary>
public sealed record OwnedPartitionInfo(int Partition, long Epoch, int Grains, long NextOffset);

/// <summary>
/// One silo's grain runtime: a member of the silos' consumer group on klais.reports. Kafka assigns partitions;
/// for each assigned partition the silo restores its grains from klais.grain-state and claims it under a new
/// ownership epoch (<see cref="StateRestorer"/>), then handles its records one at a time on a single grain thread
/// (turn-based: one record per grain at a time, and rebalance callbacks run on the same thread, so a revoked
/// partition has stopped before anyone else can get it). Changed state is written to the changelog and
/// acknowledged before the offsets are committed; grains remember the last sequence per source, so the records
/// re-read after a crash change nothing twice. Idle grains leave memory. The silo announces itself in klais.silos.
/// </summary>
public sealed partial class SiloRuntime : IDisposable
{
    private readonly SiloRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<int, PartitionHost> _hosts = [];
    private readonly ConcurrentQueue<Action> _turns = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _commandWaiters = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly GrainContext _context;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onOtherDelivered;
    private readonly long _startedUnixMs;
    private IProducer<byte[], byte[]>? _producer;
    private IConsumer<byte[], byte[]>? _consumer;
    private IConsumer<byte[]?, byte[]?>? _restoreReader;
    private StateRestorer? _restorer;
    private ReportPublisher? _aggregates;
    private Thread? _thread;
    private readonly Queue<PendingCheckpoint> _checkpoints = new();
    private readonly Dictionary<int, PartitionHost> _parked = [];
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile OwnedPartitionInfo[] _owned = [];
    private volatile bool _abandon;
    private bool _leaving;
    private bool _disposed;
    private long _nextCheckpoint;
    private long _nextAnnounce;
    private long _nextControl;
    private long _nextEviction;
    private long _controlVersion;
    private int _controlPartitions = 1;

    public SiloRuntime(SiloRuntimeOptions options, TimeProvider? time = null, ILogger? logger = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _context = new GrainContext(this);
        _onOtherDelivered = r =>
        {
            if (r.Error.IsError)
            {
                LogDeliveryFailed(_logger, r.Topic, r.Error.Reason);
            }
        };
        _startedUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Directory = new SiloDirectory(options.BootstrapServers, _time, options.AnnouncementTtl, e => LogKafkaError(_logger, e));
    }

    public string SiloId => _options.SiloId;

    public SiloRuntimeOptions Options => _options;

    public SiloCounters Counters { get; } = new();

    public EventLog Events { get; } = new();

    public SiloDirectory Directory { get; }

    /// <summary>Partition count of klais.reports (and klais.grain-state).</summary>
    public int Partitions { get; private set; }

    /// <summary>The partitions this silo serves right now (restored and claimed).</summary>
    public IReadOnlyList<OwnedPartitionInfo> Owned => _owned;

    public bool Serves(int partition) => Array.Exists(_owned, o => o.Partition == partition);

    /// <summary>Connects, checks the topics, joins the group and starts the grain thread.</summary>
    public void Start()
    {
        Librdkafka.EnsureLoaded();
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            ClientId = "klais-silo-" + SiloId,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
        }).SetLogHandler((_, m) => LogLibrdkafka(_logger, m.Level, m.Facility, m.Message)).Build();
        Partitions = SiloTopics.CheckPartitions(_producer.Handle, TimeSpan.FromSeconds(30));
        _controlPartitions = TopicPartitions.Get(_producer.Handle, ControlPlaneTopics.Control, TimeSpan.FromSeconds(30)).Count;
        _aggregates = new ReportPublisher(_producer, "silo/" + SiloId, _time);
        _restoreReader = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = "klais-silo-restore", // never joined or committed: partitions are assigned
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            FetchWaitMaxMs = 20,
        }).SetLogHandler((_, _) => { }).Build();
        _restorer = new StateRestorer(_restoreReader, _producer, SiloId, _time);

        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            ClientId = "klais-silo-" + SiloId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds,
            HeartbeatIntervalMs = (int)_options.HeartbeatInterval.TotalMilliseconds,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.RoundRobin,
            FetchWaitMaxMs = 50,
        };
        if (_options.StaticMembership)
        {
            config.GroupInstanceId = SiloId;
        }

        _consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions, commit: true))
            .SetPartitionsLostHandler((_, partitions) => OnRevoked(partitions, commit: false))
            .SetErrorHandler((_, e) => LogKafkaError(_logger, e.Reason))
            .SetLogHandler((_, m) => LogLibrdkafka(_logger, m.Level, m.Facility, m.Message))
            .Build();
        Directory.Start();
        _consumer.Subscribe(ControlPlaneTopics.Reports);
        _thread = new Thread(Run) { Name = "grains " + SiloId, IsBackground = true };
        _thread.Start();
        LogStarted(_logger, SiloId, Partitions, _options.BootstrapServers);
    }

    /// <summary>Runs <paramref name="query"/> on the grain thread between two records (a turn of its own).</summary>
    public Task<T> RunTurnAsync<T>(Func<T> query, CancellationToken cancellation = default)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _turns.Enqueue(() =>
        {
            try
            {
                done.TrySetResult(query());
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        });
        return done.Task.WaitAsync(cancellation);
    }

    /// <summary>Writes an operator command to klais.reports and waits until the owning grain (here) has handled it.</summary>
    public async Task<bool> SendCommandAsync(DeviceCommand command, TimeSpan timeout)
    {
        command.CommandId = Guid.NewGuid().ToString("N");
        var handled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _commandWaiters[command.CommandId] = handled;
        try
        {
            _aggregates!.PublishCommand(command);
            return await handled.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            _commandWaiters.TryRemove(command.CommandId, out _);
        }
    }

    /// <summary>The grain of <paramref name="key"/> if this silo serves its partition: (served, grain or null when never seen).</summary>
    internal (bool Served, IGrain? Grain, PartitionHost? Host) Peek(GrainKey key)
    {
        int partition = GrainPartitioner.Partition(key, Partitions);
        if (!_hosts.TryGetValue(partition, out PartitionHost? host))
        {
            return (false, null, null);
        }

        return (true, host.Peek(key.ToString(), key), host);
    }

    /// <summary>Every partition host (grain thread only).</summary>
    internal IReadOnlyCollection<PartitionHost> Hosts => _hosts.Values;

    /// <summary>The swarm grain's last view if this silo serves it.</summary>
    internal FleetView? FleetView()
    {
        (bool served, IGrain? grain, _) = Peek(GrainKey.Fleet);
        return served ? (grain as SwarmGrain)?.View ?? Swarm.FleetView.Empty : null;
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                RunTurns();
                ConsumeResult<byte[], byte[]>? result = _consumer!.Consume(20);
                if (result is { IsPartitionEOF: false })
                {
                    Dispatch(result);
                }

                Tick();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nothing is committed past what was written: the next owner takes over from the changelog.
            LogGrainThreadFailed(_logger, ex);
            _stopped.TrySetException(ex);
            return;
        }

        if (_abandon)
        {
            _stopped.TrySetResult();
            return; // a simulated crash: no checkpoint, no LeaveGroup (tests)
        }

        // Clean stop: write what changed, commit, leave the group (the revoke callback checkpoints again, cheaply).
        Checkpoint(_hosts.Values.ToList(), wait: true);
        _leaving = true; // the revoke callback inside Close announces too: keep saying we are leaving
        Announce(leaving: true);
        _consumer!.Close();
        _producer!.Flush(TimeSpan.FromSeconds(10));
        _stopped.TrySetResult();
    }

    /// <summary>Completes when the grain thread ends; faults when it failed (the process should exit and be restarted).</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>Test hook: stops like a killed process would (no checkpoint, no commit, no LeaveGroup, nothing flushed).</summary>
    internal void Abandon()
    {
        _abandon = true;
        _stop.Cancel();
        _thread?.Join();
        Directory.Dispose();
        _consumer?.Dispose(); // Confluent 1.9.3 disposes without LeaveGroup: the coordinator waits for the session timeout
        _restoreReader?.Dispose();
        _producer?.Dispose();
    }

    private void RunTurns()
    {
        while (_turns.TryDequeue(out Action? turn))
        {
            turn();
        }
    }

    private void Dispatch(ConsumeResult<byte[], byte[]> result)
    {
        if (!_hosts.TryGetValue(result.Partition.Value, out PartitionHost? host))
        {
            return; // not ours (any more): fenced, never handled
        }

        host.NextOffset = result.Offset.Value + 1;
        string key = Encoding.UTF8.GetString(result.Message.Key ?? []);
        ReportEnvelope envelope;
        try
        {
            envelope = ReportEnvelope.Parser.ParseFrom(result.Message.Value ?? []);
        }
        catch (InvalidProtocolBufferException)
        {
            Interlocked.Increment(ref Counters.Skipped);
            return;
        }

        if (!GrainKey.TryParse(key, out GrainKey grainKey) || !Schema.IsReadable(envelope.SchemaVersion))
        {
            Interlocked.Increment(ref Counters.Skipped);
            return;
        }

        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Activation activation = host.Activate(key, grainKey, out bool created);
        activation.LastUsedUnixMs = now;
        if (created && grainKey.Type == GrainType.Device)
        {
            host.NewDevices++;
        }

        long expiresBefore = activation.Grain is DeviceGrain { State.Block: { } previous } ? previous.ExpiresUnixMs : 0;
        if (activation.Grain.Handle(envelope, _context))
        {
            host.MarkDirty(activation);
            if (activation.Grain is DeviceGrain { State.Block: { } block } && block.ExpiresUnixMs != expiresBefore)
            {
                host.Expiries.Enqueue(key, block.ExpiresUnixMs); // once per block, not per report of a blocked device
            }
        }
        else if (envelope.BodyCase != ReportEnvelope.BodyOneofCase.PartitionAggregate)
        {
            Interlocked.Increment(ref Counters.Replays);
        }

        if (envelope.BodyCase == ReportEnvelope.BodyOneofCase.DeviceCommand
            && _commandWaiters.TryGetValue(envelope.DeviceCommand.CommandId, out TaskCompletionSource<bool>? waiter))
        {
            waiter.TrySetResult(true);
        }

        Interlocked.Increment(ref Counters.Processed);
    }

    private void Tick()
    {
        if (_checkpoints.Count > 0 && _checkpoints.Peek().Complete)
        {
            CommitAcknowledged();
        }

        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now >= _nextCheckpoint)
        {
            _nextCheckpoint = now + (long)_options.CheckpointInterval.TotalMilliseconds;
            ExpireBlocks(now);
            Checkpoint(_hosts.Values.ToList(), wait: false);
        }

        if (now >= _nextControl)
        {
            _nextControl = now + (long)_options.Controller.Interval.TotalMilliseconds;
            PublishAggregates(now);
            StepSwarm(now);
        }

        if (now >= _nextAnnounce)
        {
            _nextAnnounce = now + (long)_options.AnnounceInterval.TotalMilliseconds;
            Announce(leaving: false);
        }

        if (now >= _nextEviction)
        {
            long every = Math.Max(1000, (long)_options.IdleEviction.TotalMilliseconds / 4);
            _nextEviction = now + every;
            long before = now - (long)_options.IdleEviction.TotalMilliseconds;
            foreach (PartitionHost host in _hosts.Values)
            {
                Interlocked.Add(ref Counters.Evicted, host.Evict(before, SiloId));
            }
        }
    }

    private void ExpireBlocks(long now)
    {
        foreach (PartitionHost host in _hosts.Values)
        {
            while (host.Expiries.TryPeek(out string? key, out long at) && at <= now)
            {
                host.Expiries.Dequeue();
                if (GrainKey.TryParse(key, out GrainKey grainKey))
                {
                    Activation activation = host.Activate(key, grainKey, out _);
                    if (activation.Grain is DeviceGrain device && device.Expire(_context))
                    {
                        host.MarkDirty(activation);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes every changed grain of <paramref name="hosts"/> to klais.grain-state (under the host's epoch). The offsets
    /// those states reflect are committed only once every record of this checkpoint is acknowledged: at once when
    /// <paramref name="wait"/> (revocation, stop), else by <see cref="CommitAcknowledged"/> on a later turn, so the
    /// grain thread keeps handling records while Kafka acknowledges.
    /// </summary>
    private void Checkpoint(List<PartitionHost> hosts, bool wait)
    {
        var checkpoint = new PendingCheckpoint();
        Action<DeliveryReport<byte[], byte[]>> onDelivered = r =>
        {
            Interlocked.Increment(ref r.Error.IsError ? ref Counters.StateFailed : ref Counters.StateWritten);
            checkpoint.Delivered(r.Partition.Value, r.Offset.Value, r.Error.IsError);
        };
        foreach (PartitionHost host in hosts)
        {
            List<Activation> dirty = host.TakeDirty();
            foreach (Activation a in dirty)
            {
                checkpoint.Expect();
                _producer!.Produce(new TopicPartition(ControlPlaneTopics.GrainState, host.Partition), new Message<byte[], byte[]>
                {
                    Key = Encoding.UTF8.GetBytes(a.Key),
                    Value = host.ToRecord(a, SiloId).ToByteArray(),
                }, onDelivered);
            }

            checkpoint.Add(host, dirty);
        }

        _checkpoints.Enqueue(checkpoint);
        if (wait)
        {
            _producer!.Flush(TimeSpan.FromSeconds(10));
            CommitAcknowledged(hosts);
        }
    }

    /// <summary>
    /// Commits, in order, the offsets of every checkpoint whose state records are all acknowledged; a checkpoint with a
    /// failed record commits nothing and its grains are written again (with their newest state) next time.
    /// </summary>
    private void CommitAcknowledged(List<PartitionHost>? only = null)
    {
        var offsets = new Dictionary<int, (PartitionHost Host, long Offset)>();
        while (_checkpoints.TryPeek(out PendingCheckpoint? head) && head.Complete)
        {
            _checkpoints.Dequeue();
            foreach ((PartitionHost host, List<Activation> grains, long offset) in head.Hosts)
            {
                if (head.Failed)
                {
                    grains.ForEach(host.MarkDirty);
                    LogStateWriteFailed(_logger, host.Partition);
                }
                else
                {
                    host.StateEnd = Math.Max(host.StateEnd, head.Ends.GetValueOrDefault(host.Partition));
                    if (_hosts.GetValueOrDefault(host.Partition) == host && offset > host.CommittedOffset)
                    {
                        offsets[host.Partition] = (host, offset);
                    }
                }
            }

            if (head.Failed)
            {
                break; // later checkpoints may not commit past the failed one
            }
        }

        if (only is not null && _checkpoints.Count > 0)
        {
            LogCheckpointFailed(_logger, only.Count); // not acknowledged within the flush: the next owner re-reads
        }

        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            _consumer!.Commit(offsets.Values.Select(o => new TopicPartitionOffset(ControlPlaneTopics.Reports, o.Host.Partition, o.Offset)));
            foreach ((PartitionHost host, long offset) in offsets.Values)
            {
                host.CommittedOffset = offset;
            }

            Interlocked.Increment(ref Counters.Commits);
        }
        catch (KafkaException ex)
        {
            // Typically a rebalance in progress: the next owner re-reads from the last commit; grains skip what they saw.
            Interlocked.Increment(ref Counters.CommitFailures);
            LogCommitFailed(_logger, ex.Error.Reason);
        }
    }

    /// <summary>The state records of one checkpoint in flight, and the offsets they make safe to commit.</summary>
    private sealed class PendingCheckpoint
    {
        private int _outstanding;
        private int _failed;

        public List<(PartitionHost Host, List<Activation> Grains, long Offset)> Hosts { get; } = [];

        public bool Complete => Volatile.Read(ref _outstanding) == 0;

        public bool Failed => Volatile.Read(ref _failed) != 0;

        public void Expect() => Interlocked.Increment(ref _outstanding);

        public void Add(PartitionHost host, List<Activation> grains) => Hosts.Add((host, grains, host.NextOffset));

        /// <summary>Per partition, the offset after the last record of this checkpoint Kafka acknowledged.</summary>
        public ConcurrentDictionary<int, long> Ends { get; } = new();

        public void Delivered(int partition, long offset, bool failed)
        {
            if (failed)
            {
                Volatile.Write(ref _failed, 1);
            }
            else
            {
                Ends.AddOrUpdate(partition, offset + 1, (_, end) => Math.Max(end, offset + 1));
            }

            Interlocked.Decrement(ref _outstanding);
        }
    }

    private void OnAssigned(List<TopicPartition> partitions)
    {
        foreach (TopicPartition tp in partitions)
        {
            if (_parked.Remove(tp.Partition.Value, out PartitionHost? kept) && _restorer!.TryKeep(tp.Partition.Value, kept.StateEnd, kept.Epoch, out long end))
            {
                kept.Epoch++;
                kept.StateEnd = end;
                _hosts[tp.Partition.Value] = kept;
                _context.Record("ownership", "partition/" + tp.Partition.Value, $"kept under epoch {kept.Epoch}: {kept.GrainCount} grains, no foreign write since ours");
                continue;
            }

            RestoreResult restored = _restorer!.Restore(tp.Partition.Value);
            _hosts[tp.Partition.Value] = new PartitionHost(tp.Partition.Value, restored.Epoch, restored.State) { StateEnd = restored.StateEnd };
            Interlocked.Increment(ref Counters.Restores);
            Interlocked.Add(ref Counters.FencedRecords, restored.Fenced);
            _context.Record("ownership", "partition/" + tp.Partition.Value,
                $"claimed under epoch {restored.Epoch}: {restored.State.Count} grains from {restored.Records} records in {restored.Took.TotalMilliseconds:0} ms"
                + (restored.Fenced > 0 ? $", {restored.Fenced} fenced records ignored" : ""));
            foreach ((string key, byte[] bytes) in restored.State)
            {
                if (key.StartsWith("device/", StringComparison.Ordinal))
                {
                    GrainStateRecord record = GrainStateRecord.Parser.ParseFrom(bytes);
                    if (record.Device?.Block is { } block)
                    {
                        _hosts[tp.Partition.Value].Expiries.Enqueue(key, block.ExpiresUnixMs);
                    }
                }
            }
        }

        _parked.Clear(); // partitions not given back belong to someone else now
        PublishOwned();
        Announce(leaving: false);
        LogAssigned(_logger, SiloId, string.Join(",", partitions.Select(p => p.Partition.Value)));
    }

    private void OnRevoked(List<TopicPartitionOffset> partitions, bool commit)
    {
        var hosts = partitions.Select(p => _hosts.GetValueOrDefault(p.Partition.Value)).OfType<PartitionHost>().ToList();
        if (commit)
        {
            Checkpoint(hosts, wait: true);
        }

        foreach (PartitionHost host in hosts)
        {
            _hosts.Remove(host.Partition);
            if (commit && _checkpoints.Count == 0 && host.Dirty.Count == 0)
            {
                _parked[host.Partition] = host; // everything it holds is acknowledged: it may be kept if it comes back
            }

            _context.Record("ownership", "partition/" + host.Partition, (commit ? "released" : "lost") + $" (epoch {host.Epoch})");
        }

        PublishOwned();
        Announce(leaving: false);
        LogRevoked(_logger, SiloId, string.Join(",", partitions.Select(p => p.Partition.Value)), commit);
    }

    private void PublishOwned() =>
        _owned = _hosts.Values.OrderBy(h => h.Partition).Select(h => new OwnedPartitionInfo(h.Partition, h.Epoch, h.GrainCount, h.NextOffset)).ToArray();

    private void Announce(bool leaving)
    {
        leaving |= _leaving;
        PublishOwned();
        var announcement = new SiloAnnouncement
        {
            SchemaVersion = Schema.Current,
            SiloId = SiloId,
            ApiEndpoint = _options.ApiEndpoint,
            HeartbeatUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
            StartedUnixMs = _startedUnixMs,
            Leaving = leaving,
        };
        if (!leaving)
        {
            announcement.Partitions.AddRange(_hosts.Values.Select(h => new OwnedPartition { Partition = h.Partition, Epoch = h.Epoch, Serving = true }));
        }

        _producer!.Produce(ControlPlaneTopics.Silos, new Message<byte[], byte[]>
        {
            Key = Encoding.UTF8.GetBytes(SiloId),
            Value = announcement.ToByteArray(),
        }, _onOtherDelivered);
    }

    private void PublishAggregates(long now)
    {
        long window = Math.Max(2000, 2 * (long)_options.Controller.Interval.TotalMilliseconds);
        foreach (PartitionHost host in _hosts.Values)
        {
            var aggregate = new PartitionAggregate { Partition = host.Partition, SiloId = SiloId, Epoch = host.Epoch, NewDevices = host.NewDevices };
            host.NewDevices = 0;
            foreach (Activation a in host.Active)
            {
                switch (a.Grain)
                {
                    case DeviceGrain d when d.State.LastSeenUnixMs >= now - window:
                        aggregate.ActiveDevices++;
                        foreach (EdgeSeen e in d.State.Edges)
                        {
                            if (e.LastSeenUnixMs >= now - window)
                            {
                                aggregate.PacketsPerSecond += e.PacketsPerSecond;
                            }
                        }

                        aggregate.BytesPerSecond += d.State.Packets > 0 ? d.State.LastRate * d.State.Bytes / d.State.Packets : 0;
                        aggregate.AnomalousDevices += Math.Abs(d.State.AnomalyScore) >= _options.Consensus.AnomalyZ ? 1 : 0;
                        break;
                    case NodeGrain n when n.State.Reports > 0:
                        aggregate.Nodes.Add(n.ToLoad());
                        break;
                }
            }

            aggregate.BlockedDevices = host.Devices(includePassiveBlocked: true).Count(d => d.IsBlocked(_time.GetUtcNow()));
            _aggregates!.PublishAggregate(aggregate);
        }
    }

    private void StepSwarm(long now)
    {
        int partition = GrainPartitioner.Partition(GrainKey.Fleet, Partitions);
        if (_hosts.TryGetValue(partition, out PartitionHost? host))
        {
            string key = GrainKey.Fleet.ToString();
            Activation activation = host.Activate(key, GrainKey.Fleet, out _);
            activation.LastUsedUnixMs = now;
            if (activation.Grain is SwarmGrain swarm && swarm.Step(_context))
            {
                host.MarkDirty(activation);
            }
        }
    }

    private void EmitControl(string target, string key, ControlUpdate update)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        _controlVersion = Math.Max(_controlVersion + 1, now * 1000);
        update.SchemaVersion = Schema.Current;
        update.Version = _controlVersion;
        update.Target = target;
        update.IssuedBy = SiloId;
        update.IssuedUnixMs = now;
        _producer!.Produce(new TopicPartition(ControlPlaneTopics.Control, GrainPartitioner.Partition(key, _controlPartitions)),
            new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = update.ToByteArray() }, _onOtherDelivered);
        Interlocked.Increment(ref Counters.ControlUpdates);
    }

    /// <summary>Stops cleanly: last checkpoint, a leaving announcement, LeaveGroup.</summary>
    public void Dispose()
    {
        if (_disposed || _abandon)
        {
            return;
        }

        _disposed = true;
        _stop.Cancel();
        _thread?.Join();
        Directory.Dispose();
        _consumer?.Dispose();
        _restoreReader?.Close();
        _restoreReader?.Dispose();
        _aggregates?.Dispose();
        _producer?.Dispose();
        _stop.Dispose();
    }

    /// <summary>The grain context: one per silo, used on the grain thread only.</summary>
    private sealed class GrainContext(SiloRuntime silo) : IGrainContext
    {
        public DateTimeOffset Now => silo._time.GetUtcNow();

        public string SiloId => silo.SiloId;

        public ConsensusOptions Consensus => silo._options.Consensus;

        public ControllerOptions Controller => silo._options.Controller;

        public void EmitControl(string target, string key, ControlUpdate update) => silo.EmitControl(target, key, update);

        public void Record(string kind, string grain, string detail) =>
            silo.Events.Add(new GrainEvent(Now.ToUnixTimeMilliseconds(), SiloId, kind, grain, detail));
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Silo {SiloId} started: klais.reports has {Partitions} partitions; Kafka {Bootstrap}")]
    private static partial void LogStarted(ILogger logger, string siloId, int partitions, string bootstrap);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Silo {SiloId} serves partitions [{Partitions}]")]
    private static partial void LogAssigned(ILogger logger, string siloId, string partitions);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Silo {SiloId} gave up partitions [{Partitions}] (committed: {Committed})")]
    private static partial void LogRevoked(ILogger logger, string siloId, string partitions, bool committed);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Offset commit failed: {Reason}; the next owner re-reads from the previous commit")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Checkpoint of {Partitions} partitions not acknowledged in time; offsets not committed, state will be written again")]
    private static partial void LogCheckpointFailed(ILogger logger, int partitions);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "State of partition {Partition} not written; offsets not committed, the grains will be written again")]
    private static partial void LogStateWriteFailed(ILogger logger, int partition);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Kafka: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string reason);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Delivery to {Topic} failed: {Reason}")]
    private static partial void LogDeliveryFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Critical, Message = "The grain thread failed")]
    private static partial void LogGrainThreadFailed(ILogger logger, Exception ex);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "librdkafka {Level} {Facility}: {Message}")]
    private static partial void LogLibrdkafka(ILogger logger, SyslogLevel level, string facility, string message);
}
