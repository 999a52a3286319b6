using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klais.Contracts.Wire;

namespace Klais.Edge.Control;

/// <summary>One device's counts over one report window, as the reporter reads them.</summary>
internal readonly record struct DeviceWindow(string DeviceId, long Packets, long Bytes, long Duplicates, long Gaps, bool Suspect);

/// <summary>
/// Per-device counting for the control plane's reports: a fixed-size open-addressing table keyed by device key,
/// with packets, bytes, duplicates and gaps per device, reset every report window. Two tables alternate: receive
/// threads count into the active one while the reporter reads and clears the other. Devices that find no slot
/// (table full, or more than <see cref="MaxProbes"/> collisions) are counted in aggregate only.
/// A device whose packets in the current window reach the suspicion count is flagged once per window and the
/// reporter is woken, so it can vote at once instead of at the end of the window.
/// </summary>
/// <remarks>
/// Hot path: no allocation, no lock; two or three interlocked adds per datagram on the device's own slot
/// (one device's datagrams arrive on one receive thread, so the cache line is rarely contended).
/// Accepted races: a receive thread that read the active table just before the swap may add a datagram to the
/// table the reporter is reading or has just cleared: that datagram is counted in the next window or not at all
/// (reports are statistics, not accounting). The last sequence used for gap counting is a plain write; two
/// threads sending the same device interleaved can miscount its gaps.
/// </remarks>
internal sealed class DeviceActivity : IDisposable
{
    /// <summary>8 probes: at a load factor of 1/4 (capacity is four times the report bound) a probe chain longer than 8 is rare.</summary>
    public const int MaxProbes = 8;

    /// <summary>A jump larger than this between sequences is a device restart, not loss.</summary>
    private const uint MaxGap = 1 << 20;

    private readonly Slot[][] _tables;
    private readonly int _mask;
    private readonly long _suspectPackets;
    private readonly SemaphoreSlim _suspectSignal = new(0);
    private int _active;
    private long _overflowPackets;
    private long _overflowBytes;

    /// <param name="capacity">Slots per table, rounded up to a power of two.</param>
    /// <param name="suspectPackets">Packets in one window that make a device suspect.</param>
    public DeviceActivity(int capacity, long suspectPackets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(suspectPackets, 1);
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _tables = [new Slot[size], new Slot[size]];
        _mask = size - 1;
        _suspectPackets = suspectPackets;
    }

    public int Capacity => _mask + 1;

    public long SuspectPackets => _suspectPackets;

    /// <summary>Released once for every device that becomes suspect.</summary>
    public SemaphoreSlim SuspectSignal => _suspectSignal;

    /// <summary>Counts one admitted (not duplicate) datagram of the device.</summary>
    public void Record(ulong deviceKey, ReadOnlySpan<byte> deviceIdText, int bytes, uint sequence)
    {
        ref Slot slot = ref Find(deviceKey, deviceIdText, sequence, out bool found);
        if (!found)
        {
            Interlocked.Increment(ref _overflowPackets);
            Interlocked.Add(ref _overflowBytes, bytes);
            return;
        }

        long packets = Interlocked.Increment(ref slot.Packets);
        Interlocked.Add(ref slot.Bytes, bytes);
        uint jump = sequence - slot.LastSequence - 1;
        if (jump is > 0 and < MaxGap && packets > 1)
        {
            Interlocked.Add(ref slot.Gaps, jump);
        }

        slot.LastSequence = sequence;
        if (packets == _suspectPackets && Interlocked.CompareExchange(ref slot.Suspect, 1, 0) == 0)
        {
            _suspectSignal.Release();
        }
    }

    /// <summary>Counts one duplicate datagram of the device.</summary>
    public void RecordDuplicate(ulong deviceKey, ReadOnlySpan<byte> deviceIdText, uint sequence)
    {
        ref Slot slot = ref Find(deviceKey, deviceIdText, sequence, out bool found);
        if (found)
        {
            Interlocked.Increment(ref slot.Duplicates);
        }
    }

    /// <summary>
    /// Devices of the running window flagged suspect and not yet taken; each is returned once per window.
    /// Called by the reporter only.
    /// </summary>
    public List<DeviceWindow> TakeNewSuspects()
    {
        var result = new List<DeviceWindow>();
        Slot[] table = _tables[Volatile.Read(ref _active)];
        for (int i = 0; i < table.Length; i++)
        {
            ref Slot slot = ref table[i];
            if (Volatile.Read(ref slot.Suspect) == 1 && Interlocked.CompareExchange(ref slot.Suspect, 2, 1) == 1 && Read(ref slot) is { } window)
            {
                result.Add(window);
            }
        }

        return result;
    }

    /// <summary>
    /// Ends the window: the other table becomes active, this one's devices are returned (busiest first) and it is
    /// cleared. Called by the reporter only.
    /// </summary>
    public (List<DeviceWindow> Devices, long OverflowPackets, long OverflowBytes) EndWindow()
    {
        int ended = Volatile.Read(ref _active);
        Volatile.Write(ref _active, ended ^ 1);
        Slot[] table = _tables[ended];
        var devices = new List<DeviceWindow>();
        bool claimed = false;
        for (int i = 0; i < table.Length; i++)
        {
            claimed |= Volatile.Read(ref table[i].Key) != 0;
            if (Volatile.Read(ref table[i].Packets) > 0 && Read(ref table[i]) is { } window)
            {
                devices.Add(window);
            }
        }

        // A table no device touched is left alone: clearing it would write, and so make resident, every page of
        // both tables (about 0.6 MB at the default size) on an idle edge. A slot claimed after the scan is the
        // race accepted above.
        if (claimed)
        {
            Array.Clear(table);
        }

        devices.Sort(static (a, b) => b.Packets.CompareTo(a.Packets));
        return (devices, Interlocked.Exchange(ref _overflowPackets, 0), Interlocked.Exchange(ref _overflowBytes, 0));
    }

    public void Dispose() => _suspectSignal.Dispose();

    private ref Slot Find(ulong deviceKey, ReadOnlySpan<byte> deviceIdText, uint sequence, out bool found)
    {
        Slot[] table = _tables[Volatile.Read(ref _active)];
        if (deviceKey != 0)
        {
            int index = (int)(deviceKey ^ (deviceKey >> 32)) & _mask;
            for (int probe = 0; probe < MaxProbes; probe++)
            {
                ref Slot slot = ref table[index];
                ulong key = Volatile.Read(ref slot.Key);
                if (key == deviceKey)
                {
                    found = true;
                    return ref slot;
                }

                if (key == 0)
                {
                    ulong seen = Interlocked.CompareExchange(ref slot.Key, deviceKey, 0);
                    if (seen == 0)
                    {
                        deviceIdText.CopyTo(MemoryMarshal.AsBytes(new Span<Slot.IdBytes>(ref slot.Id)));
                        slot.LastSequence = sequence - 1;
                        Volatile.Write(ref slot.IdLength, deviceIdText.Length);
                        found = true;
                        return ref slot;
                    }

                    if (seen == deviceKey)
                    {
                        found = true;
                        return ref slot;
                    }
                }

                index = (index + 1) & _mask;
            }
        }

        found = false;
        return ref Unsafe.NullRef<Slot>();
    }

    private static DeviceWindow? Read(ref Slot slot)
    {
        int length = Volatile.Read(ref slot.IdLength);
        if (length is <= 0 or > Datagram.DeviceIdLength)
        {
            return null; // claimed a moment ago, id not written yet: counted next time
        }

        ReadOnlySpan<byte> id = MemoryMarshal.AsBytes(new ReadOnlySpan<Slot.IdBytes>(in slot.Id))[..length];
        return new DeviceWindow(
            System.Text.Encoding.UTF8.GetString(id),
            Volatile.Read(ref slot.Packets),
            Volatile.Read(ref slot.Bytes),
            Volatile.Read(ref slot.Duplicates),
            Volatile.Read(ref slot.Gaps),
            Volatile.Read(ref slot.Suspect) != 0);
    }

    private struct Slot
    {
        public ulong Key;
        public long Packets;
        public long Bytes;
        public long Duplicates;
        public long Gaps;
        public uint LastSequence;
        public int Suspect;
        public int IdLength;
        public IdBytes Id;

        [InlineArray(Datagram.DeviceIdLength)]
        public struct IdBytes
        {
            private byte _first;
        }
    }
}
