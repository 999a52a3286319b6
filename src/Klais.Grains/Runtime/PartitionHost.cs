using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Grains.Device;

namespace Klais.Grains.Runtime;

/// <summary>A grain in memory, and whether its state has changed since it was last written.</summary>
internal sealed class Activation(string key, GrainKey grainKey, IGrain grain)
{
    public string Key { get; } = key;

    public GrainKey GrainKey { get; } = grainKey;

    public IGrain Grain { get; } = grain;

    public long LastUsedUnixMs { get; set; }

    public bool Dirty { get; set; }
}

/// <summary>
/// One partition of klais.reports as its owning silo holds it: the ownership epoch it was claimed under, the
/// grains in memory (activations), the passive store (the last changelog record of every other grain, as bytes:
/// virtual actors come back from here), the grains changed since the last checkpoint, the next offset to commit,
/// and the devices whose blocks expire. Touched only by the silo's grain thread.
/// </summary>
internal sealed class PartitionHost(int partition, long epoch, Dictionary<string, byte[]> passive)
{
    private readonly Dictionary<string, Activation> _active = new(StringComparer.Ordinal);
    private readonly List<Activation> _dirty = [];

    public int Partition { get; } = partition;

    /// <summary>The ownership epoch every record written for this partition carries (raised when the partition is kept across a rebalance).</summary>
    public long Epoch { get; set; } = epoch;

    /// <summary>klais.grain-state offset after the last record this silo knows of in the partition (its own acknowledged writes).</summary>
    public long StateEnd { get; set; }

    /// <summary>klais.reports offset of the next record to handle; -1 before the first.</summary>
    public long NextOffset { get; set; } = -1;

    public long CommittedOffset { get; set; } = -1;

    /// <summary>Devices with a block in force, by expiry time (entries may be stale: checked on expiry).</summary>
    public PriorityQueue<string, long> Expiries { get; } = new();

    public int NewDevices { get; set; }

    public IReadOnlyCollection<Activation> Active => _active.Values;

    public IReadOnlyDictionary<string, byte[]> Passive => passive;

    public IReadOnlyList<Activation> Dirty => _dirty;

    public int GrainCount => _active.Count + passive.Count;

    /// <summary>The activation of <paramref name="key"/>: in memory, brought back from the passive store, or new.</summary>
    public Activation Activate(string key, GrainKey grainKey, out bool created)
    {
        created = false;
        if (_active.TryGetValue(key, out Activation? activation))
        {
            return activation;
        }

        IGrain grain;
        if (passive.Remove(key, out byte[]? bytes))
        {
            grain = Grains.Restore(grainKey, GrainStateRecord.Parser.ParseFrom(bytes));
        }
        else
        {
            grain = Grains.Create(grainKey);
            created = true;
        }

        activation = new Activation(key, grainKey, grain);
        _active.Add(key, activation);
        return activation;
    }

    /// <summary>The grain's state without activating it (for queries); null when the partition never saw it.</summary>
    public IGrain? Peek(string key, GrainKey grainKey)
    {
        if (_active.TryGetValue(key, out Activation? activation))
        {
            return activation.Grain;
        }

        return passive.TryGetValue(key, out byte[]? bytes) ? Grains.Restore(grainKey, GrainStateRecord.Parser.ParseFrom(bytes)) : null;
    }

    public void MarkDirty(Activation activation)
    {
        if (!activation.Dirty)
        {
            activation.Dirty = true;
            _dirty.Add(activation);
        }
    }

    /// <summary>Takes the changed grains for a checkpoint; they count as clean from here on (re-marked on a failed write).</summary>
    public List<Activation> TakeDirty()
    {
        var taken = new List<Activation>(_dirty);
        foreach (Activation a in taken)
        {
            a.Dirty = false;
        }

        _dirty.Clear();
        return taken;
    }

    /// <summary>Moves clean grains unused since <paramref name="before"/> to the passive store; returns how many.</summary>
    public int Evict(long before, string siloId)
    {
        List<Activation> idle = _active.Values.Where(a => !a.Dirty && a.LastUsedUnixMs < before && a.GrainKey.Type != GrainType.Swarm).ToList();
        foreach (Activation a in idle)
        {
            passive[a.Key] = ToRecord(a, siloId).ToByteArray();
            _active.Remove(a.Key);
        }

        return idle.Count;
    }

    public GrainStateRecord ToRecord(Activation activation, string siloId)
    {
        var record = new GrainStateRecord
        {
            SchemaVersion = Schema.Current,
            Epoch = Epoch,
            SiloId = siloId,
            SourceOffset = NextOffset,
        };
        activation.Grain.WriteState(record);
        return record;
    }

    /// <summary>Device grains in this partition for a listing: the active ones plus passive ones with a block in force.</summary>
    public IEnumerable<DeviceGrain> Devices(bool includePassiveBlocked)
    {
        foreach (Activation a in _active.Values)
        {
            if (a.Grain is DeviceGrain d)
            {
                yield return d;
            }
        }

        if (!includePassiveBlocked)
        {
            yield break;
        }

        foreach ((string key, long _) in Expiries.UnorderedItems)
        {
            if (!_active.ContainsKey(key) && passive.TryGetValue(key, out byte[]? bytes))
            {
                GrainStateRecord record = GrainStateRecord.Parser.ParseFrom(bytes);
                if (record.BodyCase == GrainStateRecord.BodyOneofCase.Device)
                {
                    yield return new DeviceGrain(record.Device);
                }
            }
        }
    }
}
