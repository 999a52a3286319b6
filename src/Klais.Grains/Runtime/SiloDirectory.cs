using System.Collections.Concurrent;
using Klais.Contracts.Proto;
using Klais.Kafka;

namespace Klais.Grains.Runtime;

/// <summary>
/// Who serves which partition, from klais.silos: every silo follows the topic and keeps each silo's newest
/// announcement. A partition's owner is the live silo claiming it under the highest ownership epoch; during a
/// rebalance there may be none (the API answers 503 then).
/// </summary>
public sealed class SiloDirectory : IDisposable
{
    private readonly ConcurrentDictionary<string, SiloAnnouncement> _silos = new(StringComparer.Ordinal);
    private readonly TopicFollower _follower;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;

    public SiloDirectory(string bootstrapServers, TimeProvider time, TimeSpan ttl, Action<string>? onError = null)
    {
        _time = time;
        _ttl = ttl;
        _follower = new TopicFollower(bootstrapServers, ControlPlaneTopics.Silos, OnRecord, onError);
    }

    public Task CaughtUp => _follower.CaughtUp;

    public void Start() => _follower.Start();

    /// <summary>Every silo heard of, newest announcement each, with whether it counts as alive now.</summary>
    public IReadOnlyList<(SiloAnnouncement Announcement, bool Alive)> Silos()
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        return _silos.Values.OrderBy(s => s.SiloId, StringComparer.Ordinal).Select(s => (s, IsAlive(s, now))).ToList();
    }

    /// <summary>The live silo serving <paramref name="partition"/>, or null while nobody does.</summary>
    public SiloAnnouncement? OwnerOf(int partition)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        SiloAnnouncement? owner = null;
        long epoch = -1;
        foreach (SiloAnnouncement s in _silos.Values)
        {
            if (!IsAlive(s, now))
            {
                continue;
            }

            foreach (OwnedPartition p in s.Partitions)
            {
                if (p.Partition == partition && p.Serving && p.Epoch > epoch)
                {
                    owner = s;
                    epoch = p.Epoch;
                }
            }
        }

        return owner;
    }

    private bool IsAlive(SiloAnnouncement s, long now) => !s.Leaving && now - s.HeartbeatUnixMs <= _ttl.TotalMilliseconds;

    private void OnRecord(TopicRecord record)
    {
        if (record.Key is null)
        {
            return;
        }

        string id = System.Text.Encoding.UTF8.GetString(record.Key);
        if (record.Value is null || record.Value.Length == 0)
        {
            _silos.TryRemove(id, out _);
            return;
        }

        try
        {
            SiloAnnouncement a = SiloAnnouncement.Parser.ParseFrom(record.Value);
            if (Schema.IsReadable(a.SchemaVersion))
            {
                _silos.AddOrUpdate(id, a, (_, old) => old.HeartbeatUnixMs > a.HeartbeatUnixMs ? old : a);
            }
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            // not ours to fail on: skip
        }
    }

    public void Dispose() => _follower.Dispose();
}
