using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Klais.Contracts.Wire;
using Klais.Net;

namespace Klais.Edge.Control;

/// <summary>One device's counts over one report window, as the reporter reads them.</summary>
/// <param name="Sources">Distinct source addresses in the window, estimated (<see cref="DeviceActivity.EstimateDistinct"/>).</param>
/// <param name="SourceSamples">The first few distinct addresses seen, as text ("192.0.2.7"); at most <see cref="DeviceActivity.MaxSourceSamples"/>.</param>
/// <param name="Heavy">The device carried at least the heavy-hitter share of this edge's traffic at some point of the window.</param>
internal readonly record struct DeviceWindow(string DeviceId, long Packets, long Bytes, long Duplicates, long Gaps, bool Suspect,
    int Sources = 0, string[]? SourceSamples = null, bool Heavy = false);

/// <summary>
/// Per-device counting for the control plane's reports: a fixed-size open-addressing table keyed by device key,
/// with packets, bytes, duplicates and gaps per device, reset every report window. Two tables alternate: receive
/// threads count into the active one while the reporter reads and clears the other. Devices that find no slot
/// (table full, or more than <see cref="MaxProbes"/> collisions) are counted in aggregate only.
/// A device whose packets in the current window reach the suspicion count is flagged once per window and the
/// reporter is woken, so it can vote at once instead of at the end of the window. So is a heavy hitter: a device
/// that holds at least the heavy-hitter share of everything this edge admitted in the window so far (checked when its
/// count reaches a power of two from <see cref="MinHeavyPackets"/> on, so the check costs nothing in between).
/// <para>
/// Source addresses: each slot keeps a 64-bit bitmap of its senders' address hashes (linear counting: the number of
/// distinct addresses is estimated from the bits still clear, exact enough up to a few dozen and saturating at
/// <see cref="MaxDistinctEstimate"/>) and the first <see cref="MaxSourceSamples"/> distinct addresses themselves (first as
/// the receive threads counted them: with several threads, not necessarily in arrival order).
/// Ports are ignored: a device behind NAT that changes port is still one source.
/// </para>
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

    /// <summary>Distinct addresses kept as examples per device and window.</summary>
    public const int MaxSourceSamples = 2;

    /// <summary>What <see cref="EstimateDistinct"/> says once all 64 bits are set: 64 × ln 64.</summary>
    public const int MaxDistinctEstimate = Klais.Contracts.Configuration.PolicySettings.MaxDistinctEstimate;

    /// <summary>Packets in a window below which no device counts as a heavy hitter, whatever its share.</summary>
    public const long MinHeavyPackets = 64;

    /// <summary>A jump larger than this between sequences is a device restart, not loss.</summary>
    private const uint MaxGap = 1 << 20;

    private readonly Slot[][] _tables;
    private readonly int _mask;
    // Thresholds a fleet policy may change (Retune): read on the hot path without a lock. Accepted race: a datagram
    // counted while they change may be judged by old and new thresholds mixed; the next one sees the new ones.
    private long _suspectPackets;
    private int _suspectSourceBits;
    private double _heavyShare;
    private readonly Func<long>? _admitted;
    private readonly SemaphoreSlim _suspectSignal = new(0);
    private long _windowStartAdmitted;
    private int _active;
    private long _overflowPackets;
    private long _overflowBytes;

    /// <param name="capacity">Slots per table, rounded up to a power of two.</param>
    /// <param name="suspectPackets">Packets in one window that make a device suspect.</param>
    /// <param name="suspectSources">Distinct source addresses in one window that make a device suspect (estimated).</param>
    /// <param name="heavyShare">Share of the edge's admitted datagrams in the window that makes a device a heavy hitter (0..1].</param>
    /// <param name="admitted">This edge's admitted datagrams so far (a monotonic count); null: no heavy-hitter detection.</param>
    public DeviceActivity(int capacity, long suspectPackets, int suspectSources = MaxDistinctEstimate, double heavyShare = 1, Func<long>? admitted = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(suspectSources, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(suspectSources, MaxDistinctEstimate);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(suspectPackets, 1);
        if (!(heavyShare is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(heavyShare), heavyShare, "The heavy-hitter share must be in (0, 1].");
        }

        int size = (int)BitOperations.RoundUpToPowerOf2((uint)capacity);
        _tables = [new Slot[size], new Slot[size]];
        _mask = size - 1;
        _admitted = admitted;
        Retune(suspectPackets, suspectSources, heavyShare);
        _windowStartAdmitted = admitted?.Invoke() ?? 0;
    }

    /// <summary>
    /// New thresholds (a fleet policy): packets per window, distinct sources and heavy-hitter share. A device already
    /// past a lowered packet threshold in the current window is judged again in the next one.
    /// </summary>
    public void Retune(long suspectPackets, int suspectSources, double heavyShare)
    {
        int bits = 1;
        while (EstimateDistinct((1UL << bits) - 1) < suspectSources)
        {
            bits++;   // the fewest set bits whose estimate reaches the threshold (16 sources: 15 bits)
        }

        Volatile.Write(ref _suspectPackets, suspectPackets);
        Volatile.Write(ref _suspectSourceBits, bits);
        Volatile.Write(ref _heavyShare, heavyShare);
    }

    public int Capacity => _mask + 1;

    public long SuspectPackets => _suspectPackets;

    /// <summary>Bits of a device's source bitmap that make it suspect (<c>suspectSources</c> as linear counting reads it).</summary>
    public int SuspectSourceBits => _suspectSourceBits;

    /// <summary>Released once for every device that becomes suspect or a heavy hitter in a window.</summary>
    public SemaphoreSlim SuspectSignal => _suspectSignal;

    /// <summary>
    /// Linear counting over a 64-bit bitmap: with <c>z</c> bits still clear, about <c>-64 ln(z / 64)</c> distinct values
    /// were hashed in (1 bit → 1, 14 bits → 16, 40 bits → 62); all bits set → <see cref="MaxDistinctEstimate"/>.
    /// </summary>
    public static int EstimateDistinct(ulong bits)
    {
        int clear = 64 - BitOperations.PopCount(bits);
        return clear == 0 ? MaxDistinctEstimate : (int)Math.Round(-64 * Math.Log(clear / 64.0));
    }

    /// <summary>Counts one admitted (not duplicate) datagram of the device, sent from <paramref name="source"/>.</summary>
    public void Record(ulong deviceKey, ReadOnlySpan<byte> deviceIdText, int bytes, uint sequence, in DatagramSource source = default)
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
        if (!source.IsNone)
        {
            RecordSource(ref slot, source);
        }

        if (packets == _suspectPackets && Interlocked.CompareExchange(ref slot.Suspect, 1, 0) == 0)
        {
            _suspectSignal.Release();
        }

        // Powers of two only: a device's share is looked at about log2(packets) times a window.
        if (packets >= MinHeavyPackets && (packets & (packets - 1)) == 0 && _admitted is not null && Volatile.Read(ref slot.Heavy) == 0)
        {
            long total = _admitted() - Volatile.Read(ref _windowStartAdmitted);
            if (packets >= _heavyShare * total && Interlocked.CompareExchange(ref slot.Heavy, 1, 0) == 0)
            {
                _suspectSignal.Release();
            }
        }
    }

    private void RecordSource(ref Slot slot, in DatagramSource source)
    {
        ulong bit = 1UL << (int)(source.AddressHash >> 58);
        // Read first: a device seen from one address sets its bit once and never writes the shared word again.
        ulong before;
        if ((Volatile.Read(ref slot.SourceBits) & bit) != 0 || ((before = Interlocked.Or(ref slot.SourceBits, bit)) & bit) != 0)
        {
            return;
        }

        if (BitOperations.PopCount(before | bit) == _suspectSourceBits && Interlocked.CompareExchange(ref slot.Suspect, 1, 0) == 0)
        {
            _suspectSignal.Release();
        }

        int sample = Interlocked.Increment(ref slot.SampleCount) - 1;
        if (sample < MaxSourceSamples)
        {
            (ulong high, ulong low) = source.Words;
            Span<ulong> words = slot.Samples;
            words[2 * sample] = high;
            words[(2 * sample) + 1] = low;
            Interlocked.Or(ref slot.SamplesWritten, 1 << sample); // published after both words: readers skip unwritten samples
        }
    }

    /// <summary>
    /// Starts loading <paramref name="deviceKey"/>'s first-probe slot into the cache ahead of <see cref="Record"/>. A hint
    /// only (nothing on processors without it): the table is not pinned, and an address the collector has just moved
    /// only wastes the hint, since a prefetch never faults.
    /// </summary>
    public unsafe void Prefetch(ulong deviceKey)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            Slot[] table = _tables[Volatile.Read(ref _active)];
            byte* slot = (byte*)Unsafe.AsPointer(ref table[FirstProbe(deviceKey)]);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(slot);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(slot + 64);
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
    /// Devices of the running window newly flagged suspect or heavy hitter and not yet taken: each flag is returned
    /// once per window (a heavy hitter that later turns suspect comes back once more). Called by the reporter only.
    /// </summary>
    public List<DeviceWindow> TakeUrgent()
    {
        var result = new List<DeviceWindow>();
        Slot[] table = _tables[Volatile.Read(ref _active)];
        for (int i = 0; i < table.Length; i++)
        {
            ref Slot slot = ref table[i];
            bool suspect = Volatile.Read(ref slot.Suspect) == 1 && Interlocked.CompareExchange(ref slot.Suspect, 2, 1) == 1;
            bool heavy = Volatile.Read(ref slot.Heavy) == 1 && Interlocked.CompareExchange(ref slot.Heavy, 2, 1) == 1;
            if ((suspect || heavy) && Read(ref slot) is { } window)
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
        Volatile.Write(ref _windowStartAdmitted, _admitted?.Invoke() ?? 0);
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
            int index = FirstProbe(deviceKey);
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

    /// <summary>The slot a device's probe starts at (and <see cref="Prefetch"/> loads).</summary>
    private int FirstProbe(ulong deviceKey) => (int)(deviceKey ^ (deviceKey >> 32)) & _mask;

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
            Volatile.Read(ref slot.Suspect) != 0,
            EstimateDistinct(Volatile.Read(ref slot.SourceBits)),
            Samples(ref slot),
            Volatile.Read(ref slot.Heavy) != 0);
    }

    private static string[] Samples(ref Slot slot)
    {
        int written = Volatile.Read(ref slot.SamplesWritten);
        var samples = new string[BitOperations.PopCount((uint)written)];
        ReadOnlySpan<ulong> words = slot.Samples;
        for (int i = 0, n = 0; i < MaxSourceSamples; i++)
        {
            if ((written & (1 << i)) != 0)
            {
                samples[n++] = DatagramSource.FromWords(words[2 * i], words[(2 * i) + 1]).AddressText();
            }
        }

        return samples;
    }

    private struct Slot
    {
        public ulong Key;
        public long Packets;
        public long Bytes;
        public long Duplicates;
        public long Gaps;
        public ulong SourceBits;
        public uint LastSequence;
        public int Suspect;
        public int Heavy;
        public int IdLength;
        public int SampleCount;
        public int SamplesWritten;
        public IdBytes Id;
        public SampleWords Samples;

        [InlineArray(Datagram.DeviceIdLength)]
        public struct IdBytes
        {
            private byte _first;
        }

        /// <summary><see cref="MaxSourceSamples"/> addresses, two words each (<see cref="DatagramSource.Words"/>).</summary>
        [InlineArray(2 * MaxSourceSamples)]
        public struct SampleWords
        {
            private ulong _first;
        }
    }
}
