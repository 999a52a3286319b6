using Klais.Kafka;

namespace Klais.Contracts.Proto;

/// <summary>One record of klais.control as a follower sees it: an update, or the removal of its key (tombstone).</summary>
public sealed record ControlEvent(string Key, ControlUpdate? Update, int Partition, long Offset)
{
    public bool IsRemoval => Update is null;
}

/// <summary>
/// Follows klais.control for an edge: replays the whole (compacted) topic from the beginning, then delivers new
/// updates as silos write them. Updates for other edges' targets are filtered out; records of an unknown schema
/// version are skipped and counted. <see cref="CaughtUp"/> completes when the replay is done, so an edge can
/// rebuild its blocklist and limits before it starts serving.
/// </summary>
/// <example>
/// <code>
/// using var control = new ControlFollower(bootstrap, nodeId: "edge-1", e => apply(e));
/// control.Start();
/// await control.CaughtUp.WaitAsync(TimeSpan.FromSeconds(30));
/// </code>
/// </example>
public sealed class ControlFollower : IDisposable
{
    private readonly TopicFollower _follower;
    private readonly string _nodeId;
    private readonly Action<ControlEvent> _onEvent;
    private long _skipped;

    public ControlFollower(string bootstrapServers, string nodeId, Action<ControlEvent> onEvent, Action<string>? onError = null,
        string topic = ControlPlaneTopics.Control)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nodeId);
        _nodeId = nodeId;
        _onEvent = onEvent;
        _follower = new TopicFollower(bootstrapServers, topic, OnRecord, onError);
    }

    public Task CaughtUp => _follower.CaughtUp;

    /// <summary>Records skipped: unreadable, of an unknown schema version, or for another edge.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public void Start() => _follower.Start();

    /// <summary>Stops following, waiting at most <paramref name="timeout"/> for the reading thread; true when it ended.</summary>
    public bool Stop(TimeSpan timeout) => _follower.Stop(timeout);

    /// <summary>True when <paramref name="key"/> (<c>target/item</c>) concerns the edge <paramref name="nodeId"/>.</summary>
    public static bool IsFor(string key, string nodeId)
    {
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        string target = slash < 0 ? key : key[..slash];
        return target == ControlPlaneTopics.AllEdges || target == nodeId;
    }

    private void OnRecord(TopicRecord record)
    {
        string? key = record.Key is null ? null : System.Text.Encoding.UTF8.GetString(record.Key);
        if (key is null || !IsFor(key, _nodeId))
        {
            Interlocked.Increment(ref _skipped);
            return;
        }

        if (record.Value is null || record.Value.Length == 0)
        {
            _onEvent(new ControlEvent(key, null, record.Partition, record.Offset));
            return;
        }

        ControlUpdate update;
        try
        {
            update = ControlUpdate.Parser.ParseFrom(record.Value);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            Interlocked.Increment(ref _skipped);
            return;
        }

        if (!Schema.IsReadable(update.SchemaVersion))
        {
            Interlocked.Increment(ref _skipped);
            return;
        }

        _onEvent(new ControlEvent(key, update, record.Partition, record.Offset));
    }

    public void Dispose() => _follower.Dispose();
}
