using System.Runtime.CompilerServices;

namespace Klais.Xdp.Maps;

/// <summary>
/// A typed view of a BPF hash, LRU hash or array map through its descriptor. <typeparamref name="TKey"/> and
/// <typeparamref name="TValue"/> are the blittable mirrors of the C types; the constructor checks their sizes
/// against what the kernel says the map holds, so a mismatch fails at open, not as corrupted entries.
/// </summary>
internal sealed unsafe class BpfMap<TKey, TValue> : IDisposable
    where TKey : unmanaged
    where TValue : unmanaged
{
    public BpfMap(string name, SafeBpfFdHandle fd)
    {
        Name = name;
        Fd = fd;
        MaxEntries = (int)MapShape.Check<TKey, TValue>(name, fd).MaxEntries;
    }

    public string Name { get; }

    public int MaxEntries { get; }

    internal SafeBpfFdHandle Fd { get; }

    /// <summary>Creates or replaces (<c>BPF_ANY</c>) the entry.</summary>
    public void Update(in TKey key, in TValue value) => Update(key, value, Interop.Libbpf.UpdateAny);

    public void Update(TKey key, TValue value, ulong flags) =>
        Interop.Libbpf.DangerousUpdate(Fd, Name, &key, &value, flags);

    public bool TryLookup(TKey key, out TValue value)
    {
        TValue found;
        bool exists = Interop.Libbpf.DangerousLookup(Fd, Name, &key, &found);
        value = exists ? found : default;
        return exists;
    }

    /// <summary>False when there was no such entry.</summary>
    public bool Delete(TKey key) => Interop.Libbpf.DangerousDelete(Fd, Name, &key);

    /// <summary>
    /// The keys at the time of the call (bpf_map_get_next_key). The kernel may change the map meanwhile: a key
    /// deleted during the walk can restart it from the first key, so the walk stops after MaxEntries keys.
    /// </summary>
    public List<TKey> Keys()
    {
        var keys = new List<TKey>();
        TKey current;
        TKey next;
        bool more = Interop.Libbpf.DangerousNextKey(Fd, Name, null, &next);
        while (more && keys.Count < MaxEntries)
        {
            keys.Add(next);
            current = next;
            more = Interop.Libbpf.DangerousNextKey(Fd, Name, &current, &next);
        }

        return keys;
    }

    /// <summary>Every (key, value) present at the time of the call; entries deleted during the walk are skipped.</summary>
    public List<KeyValuePair<TKey, TValue>> Entries()
    {
        var entries = new List<KeyValuePair<TKey, TValue>>();
        foreach (TKey key in Keys())
        {
            if (TryLookup(key, out TValue value))
            {
                entries.Add(new KeyValuePair<TKey, TValue>(key, value));
            }
        }

        return entries;
    }

    public void Dispose() => Fd.Dispose();
}

/// <summary>
/// A per-CPU map (<c>BPF_MAP_TYPE_PERCPU_ARRAY</c>): a lookup returns one value per possible CPU, each in a slot
/// rounded up to 8 bytes, as the kernel copies them out.
/// </summary>
internal sealed unsafe class BpfPerCpuMap<TKey, TValue> : IDisposable
    where TKey : unmanaged
    where TValue : unmanaged
{
    private readonly int _stride;

    public BpfPerCpuMap(string name, SafeBpfFdHandle fd)
    {
        Name = name;
        Fd = fd;
        MapShape.Check<TKey, TValue>(name, fd);
        PossibleCpus = Interop.Libbpf.PossibleCpuCount();
        _stride = (sizeof(TValue) + 7) & ~7;
    }

    public string Name { get; }

    public int PossibleCpus { get; }

    internal SafeBpfFdHandle Fd { get; }

    /// <summary>The value of every possible CPU for <paramref name="key"/>; false when the key is absent.</summary>
    public bool TryLookup(TKey key, Span<TValue> perCpu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perCpu.Length, PossibleCpus, nameof(perCpu));
        int bytes = _stride * PossibleCpus;
        byte[] buffer = new byte[bytes];
        fixed (byte* values = buffer)
        {
            if (!Interop.Libbpf.DangerousLookup(Fd, Name, &key, values))
            {
                return false;
            }

            for (int cpu = 0; cpu < PossibleCpus; cpu++)
            {
                perCpu[cpu] = Unsafe.ReadUnaligned<TValue>(values + (cpu * _stride));
            }
        }

        return true;
    }

    public void Dispose() => Fd.Dispose();
}

/// <summary>Checks that a map's key and value sizes are those of the C# mirrors, so a mismatch fails at open.</summary>
internal static class MapShape
{
    public static unsafe BpfMapInfo Check<TKey, TValue>(string name, SafeBpfFdHandle fd)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        BpfMapInfo info = Interop.Libbpf.GetMapInfo(fd);
        return info.KeySize == sizeof(TKey) && info.ValueSize == sizeof(TValue)
            ? info
            : throw new BpfException(
                $"map {name} holds {info.KeySize}-byte keys and {info.ValueSize}-byte values; " +
                $"{typeof(TKey).Name} is {sizeof(TKey)} bytes and {typeof(TValue).Name} {sizeof(TValue)}");
    }
}
