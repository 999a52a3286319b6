using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klais.Edge.Configuration;
using Klais.Edge.Spill;
using Klais.Net;

namespace Klais.Edge.Dedupe;

/// <summary>What <see cref="DedupeTable.Check"/> decided about one datagram.</summary>
internal enum DedupeVerdict : byte
{
    /// <summary>Not seen before: admit (and it is now remembered).</summary>
    New,

    /// <summary>This device's sequence was seen within its window: drop.</summary>
    Duplicate,

    /// <summary>Older than the device's window: cannot be told apart from a replay, so it is dropped as a duplicate.</summary>
    Stale,
}

/// <summary>
/// Per-device sliding window of recent sequence numbers: the highest sequence seen and a 64-bit map of it and the
/// 63 before it. u32 sequences compare with serial-number arithmetic (RFC 1982): <c>(int)(seq − highest) &gt; 0</c>
/// is newer, so wrap-around from 4294967295 to 0 is just the next number.
/// </summary>
/// <remarks>
/// <para>Layout: a set-associative table of <c>MaxDeviceCount</c> entries in sets of 8, keyed by the 64-bit device
/// key. A set is 256 contiguous bytes: its 8 keys (one 64-byte cache line), then its 8 slots of 24 bytes, the
/// set's lock in the first slot's spare 4 bytes; 32 bytes per device in all, allocated once. A lookup touches the
/// keys' line, the lock's line right after it and its slot's line, all within one 256-byte block (the hardware
/// fetches adjacent lines together), instead of three lines in three arrays: with 10,000 devices the table is the
/// receive thread's largest cache footprint. The table starts on a 2 MiB boundary, so each set sits on four whole
/// cache lines (an array's own start, 56 bytes past a line, spread every set over five), and lives in transparent
/// huge pages where the kernel allows (<see cref="HugePages"/>): spread over the default 32 MB table, 10,000 devices
/// touch thousands of 4 KiB pages, and the TLB misses of those lookups were the receive thread's largest cost of our
/// own. A set that is full evicts an idle device first, else its least recently seen one (counted: a duplicate of an
/// evicted device's old datagram would pass).</para>
/// <para>Gaps are counted when a sequence number leaves the window unseen: late (reordered) datagrams within the
/// window are admitted and not counted as lost. The first datagram of a device marks the 63 numbers before it as
/// seen, so a device is not charged for history the edge never expected.</para>
/// <para>Concurrency: one spin lock per set (an uncontended CAS, ~5 ns); a device's datagrams arrive on one receive
/// thread, but two devices of one set may not. Nothing is allocated per datagram.</para>
/// </remarks>
internal sealed class DedupeTable
{
    public const int Ways = 8;
    public const int WindowBits = 64;

    /// <summary>Jumps ahead by more than this are counted as a counter reset, not as that many lost datagrams.</summary>
    private const uint MaxCountedGap = 1 << 16;

    private const ulong EmptyKey = 0;
    private const ulong ZeroKeySubstitute = 0x9E3779B97F4A7C15;

    private readonly HugePageTable<Set> _sets;
    private readonly int _setShift;
    private readonly long _epoch;
    private readonly long _ticksPerSecond;
    private readonly uint _idleSeconds;
    private readonly uint _resetSeconds;
    private long _devices;
    private long _gaps;
    private long _stale;
    private long _resets;
    private long _evictedIdle;
    private long _evictedActive;

    public DedupeTable(DedupeOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsValidation.ThrowIfInvalid(options.Validate(), nameof(options));

        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)options.MaxDeviceCount);
        int sets = capacity / Ways;
        _setShift = 64 - BitOperations.Log2((uint)sets);
        _sets = HugePages.Allocate<Set>(sets);
        _epoch = time.GetTimestamp();
        _ticksPerSecond = time.TimestampFrequency;
        _idleSeconds = (uint)Math.Max(1, options.IdleAfter.TotalSeconds);
        _resetSeconds = (uint)Math.Max(1, options.ResetAfter.TotalSeconds);
    }

    /// <summary>Devices the table holds at most.</summary>
    public int Capacity => _sets.Length * Ways;

    /// <summary>The table's whole 2 MiB pages are advised to be transparent huge pages (<see cref="HugePages"/>).</summary>
    public bool InHugePages => _sets.Advised;

    /// <summary>Bytes of the table per device it can hold (key, slot and a share of the set lock).</summary>
    public static double BytesPerDevice => Unsafe.SizeOf<Set>() / (double)Ways;

    public long Devices => Interlocked.Read(ref _devices);

    /// <summary>Sequence numbers that left a device's window without being seen: loss before the edge.</summary>
    public long Gaps => Interlocked.Read(ref _gaps);

    /// <summary>Datagrams older than their device's window (also counted as duplicates).</summary>
    public long Stale => Interlocked.Read(ref _stale);

    /// <summary>Devices re-anchored: a jump of more than 65536, or only stale datagrams for <see cref="DedupeOptions.ResetAfter"/>.</summary>
    public long Resets => Interlocked.Read(ref _resets);

    public long EvictedIdle => Interlocked.Read(ref _evictedIdle);

    /// <summary>Devices forgotten while still active because their set was full: raise <c>KLAIS_DEDUPE_MAX_DEVICES</c>.</summary>
    public long EvictedActive => Interlocked.Read(ref _evictedActive);

    /// <summary>
    /// Decides whether <paramref name="sequence"/> of device <paramref name="key"/> is new, and remembers it if so.
    /// <paramref name="timestamp"/> is the receive time in this table's <see cref="TimeProvider"/> units.
    /// </summary>
    public DedupeVerdict Check(ulong key, uint sequence, long timestamp)
    {
        key = Stored(key);
        uint now = Seconds(timestamp);
        int set = SetOf(key);
        ref int gate = ref GateOf(set);
        Enter(ref gate);
        try
        {
            int index = Find(set, key);
            if (index < 0)
            {
                index = Claim(set, key, now);
                Renew(ref SlotAt(index), sequence, ulong.MaxValue, now);
                return DedupeVerdict.New;
            }

            ref Slot slot = ref SlotAt(index);
            slot.LastSeen = now;
            int distance = (int)(sequence - slot.Highest);
            if (distance > 0)
            {
                Advance(ref slot, sequence, (uint)distance);
                return DedupeVerdict.New;
            }

            if (distance > -WindowBits)
            {
                slot.StaleSince = 0;
                ulong bit = 1UL << -distance;
                if ((slot.Window & bit) != 0)
                {
                    return DedupeVerdict.Duplicate;
                }

                slot.Window |= bit;
                return DedupeVerdict.New;
            }

            return OnStale(ref slot, sequence, now);
        }
        finally
        {
            Volatile.Write(ref gate, 0);
        }
    }

    /// <summary>Starts loading <paramref name="key"/>'s set into the cache (its four lines) ahead of <see cref="Check"/>; a hint only, nothing on processors without it.</summary>
    public unsafe void Prefetch(ulong key)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            byte* set = (byte*)Unsafe.AsPointer(ref _sets[SetOf(Stored(key))]);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(set);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(set + 64);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(set + 128);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(set + 192);
        }
    }

    /// <summary>
    /// Forgets that <paramref name="sequence"/> was seen (the Dam dropped it after <see cref="Check"/> admitted it), so
    /// the device's retransmission is not taken for a duplicate.
    /// </summary>
    public void Forget(ulong key, uint sequence)
    {
        key = Stored(key);
        int set = SetOf(key);
        ref int gate = ref GateOf(set);
        Enter(ref gate);
        try
        {
            int index = Find(set, key);
            if (index >= 0)
            {
                ref Slot slot = ref SlotAt(index);
                int distance = (int)(sequence - slot.Highest);
                if (distance <= 0 && distance > -WindowBits)
                {
                    slot.Window &= ~(1UL << -distance);
                }
            }
        }
        finally
        {
            Volatile.Write(ref gate, 0);
        }
    }

    /// <summary>
    /// Writes every device's window to <paramref name="path"/> (shutdown), so a restarted edge still recognises
    /// datagrams it admitted before. <c>KLDEDUP1 | i64 n | n × (u64 key, u32 highest, u64 window) | u32 CRC-32C</c>.
    /// </summary>
    public int Save(string path)
    {
        using var buffer = new MemoryStream();
        Span<byte> entry = stackalloc byte[20];
        buffer.Write("KLDEDUP1"u8);
        buffer.Write(stackalloc byte[8]);
        long count = 0;
        for (int set = 0; set < _sets.Length; set++)
        {
            ref int gate = ref GateOf(set);
            Enter(ref gate);
            try
            {
                for (int i = set * Ways; i < (set + 1) * Ways; i++)
                {
                    if (KeyAt(i) == EmptyKey)
                    {
                        continue;
                    }

                    BinaryPrimitives.WriteUInt64LittleEndian(entry, KeyAt(i));
                    BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], SlotAt(i).Highest);
                    BinaryPrimitives.WriteUInt64LittleEndian(entry[12..], SlotAt(i).Window);
                    buffer.Write(entry);
                    count++;
                }
            }
            finally
            {
                Volatile.Write(ref gate, 0);
            }
        }

        byte[] bytes = buffer.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), count);
        byte[] crc = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32C.Compute(bytes));
        string temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            file.Write(bytes);
            file.Write(crc);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        return (int)count;
    }

    /// <summary>Loads windows written by <see cref="Save"/>; returns how many devices, or -1 when the file is missing or damaged.</summary>
    public int Load(string path, long timestamp)
    {
        if (!File.Exists(path))
        {
            return -1;
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 20 || !bytes.AsSpan(0, 8).SequenceEqual("KLDEDUP1"u8)
            || Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
        {
            return -1;
        }

        long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        if (count < 0 || bytes.Length != 16 + (count * 20) + 4)
        {
            return -1;
        }

        uint now = Seconds(timestamp);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> entry = bytes.AsSpan(16 + (i * 20), 20);
            ulong key = BinaryPrimitives.ReadUInt64LittleEndian(entry);
            int set = SetOf(key);
            if (Find(set, key) < 0)
            {
                int index = Claim(set, key, now);
                Renew(ref SlotAt(index), BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[12..]), now);
            }
        }

        return (int)count;
    }

    private static void Enter(ref int gate)
    {
        if (Interlocked.CompareExchange(ref gate, 1, 0) == 0)
        {
            return;
        }

        var spin = default(SpinWait);
        while (Interlocked.CompareExchange(ref gate, 1, 0) != 0)
        {
            spin.SpinOnce();
        }
    }

    private void Advance(ref Slot slot, uint sequence, uint distance)
    {
        slot.StaleSince = 0;
        if (distance > MaxCountedGap)
        {
            Interlocked.Increment(ref _resets);
            slot.Window = 1;
        }
        else if (distance >= WindowBits)
        {
            Interlocked.Add(ref _gaps, WindowBits - BitOperations.PopCount(slot.Window) + (distance - WindowBits));
            slot.Window = 1;
        }
        else
        {
            ulong leaving = slot.Window >> (WindowBits - (int)distance);
            long lost = distance - BitOperations.PopCount(leaving);
            if (lost != 0)
            {
                Interlocked.Add(ref _gaps, lost);
            }

            slot.Window = (slot.Window << (int)distance) | 1;
        }

        slot.Highest = sequence;
    }

    private DedupeVerdict OnStale(ref Slot slot, uint sequence, uint now)
    {
        Interlocked.Increment(ref _stale);
        if (slot.StaleSince == 0)
        {
            slot.StaleSince = now + 1;   // +1: 0 means "no streak"
            return DedupeVerdict.Stale;
        }

        if (now + 1 - slot.StaleSince < _resetSeconds)
        {
            return DedupeVerdict.Stale;
        }

        // Only datagrams from before the window for ResetAfter: the device restarted its counter.
        Interlocked.Increment(ref _resets);
        Interlocked.Decrement(ref _stale);
        slot.Highest = sequence;
        slot.Window = ulong.MaxValue;
        slot.StaleSince = 0;
        return DedupeVerdict.New;
    }

    /// <summary>The key as the table stores it: 0 marks an empty slot, so a device whose key is 0 is kept under another.</summary>
    private static ulong Stored(ulong key) => key == EmptyKey ? ZeroKeySubstitute : key;

    private int SetOf(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _setShift);

    private int Find(int set, ulong key)
    {
        int first = set * Ways;
        for (int i = first; i < first + Ways; i++)
        {
            if (KeyAt(i) == key)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A slot for a new device: an empty one, else the least recently seen (idle first), counted.</summary>
    private int Claim(int set, ulong key, uint now)
    {
        int first = set * Ways;
        int oldest = first;
        for (int i = first; i < first + Ways; i++)
        {
            if (KeyAt(i) == EmptyKey)
            {
                KeyAt(i) = key;
                Interlocked.Increment(ref _devices);
                return i;
            }

            if (SlotAt(i).LastSeen < SlotAt(oldest).LastSeen)
            {
                oldest = i;
            }
        }

        Interlocked.Increment(ref now - SlotAt(oldest).LastSeen >= _idleSeconds ? ref _evictedIdle : ref _evictedActive);
        KeyAt(oldest) = key;
        return oldest;
    }

    /// <summary>The key of entry <paramref name="index"/> (set × 8 + way).</summary>
    private ref ulong KeyAt(int index) => ref _sets[index / Ways].Keys[index % Ways];

    /// <summary>The slot of entry <paramref name="index"/> (set × 8 + way).</summary>
    private ref Slot SlotAt(int index) => ref _sets[index / Ways].Slots[index % Ways];

    /// <summary>A set's spin lock: the spare 4 bytes of its first slot.</summary>
    private ref int GateOf(int set) => ref _sets[set].Slots[0].Gate;

    /// <summary>Sets a slot's window for a new or reloaded device; its <see cref="Slot.Gate"/> (the set's lock, held now) stays.</summary>
    private static void Renew(ref Slot slot, uint highest, ulong window, uint now)
    {
        slot.Window = window;
        slot.Highest = highest;
        slot.LastSeen = now;
        slot.StaleSince = 0;
    }

    private uint Seconds(long timestamp) => (uint)Math.Max(0, (timestamp - _epoch) / _ticksPerSecond);

    /// <summary>One device's window; 24 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong Window;
        public uint Highest;
        public uint LastSeen;
        public uint StaleSince;

        /// <summary>Used in a set's first slot only: the set's spin lock (0 free, 1 held).</summary>
        public int Gate;
    }

    /// <summary>A set's 8 keys: one cache line.</summary>
    [InlineArray(Ways)]
    private struct SetKeys
    {
        private ulong _key;
    }

    /// <summary>A set's 8 slots, right after its keys.</summary>
    [InlineArray(Ways)]
    private struct SetSlots
    {
        private Slot _slot;
    }

    /// <summary>One set: 64 bytes of keys and 192 of slots, contiguous.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Set
    {
        public SetKeys Keys;
        public SetSlots Slots;
    }
}
