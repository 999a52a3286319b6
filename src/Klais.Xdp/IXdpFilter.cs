using System.Threading.Channels;

namespace Klais.Xdp;

/// <summary>
/// The XDP filter as the edge uses it: one attached program and its maps. Made by <see cref="XdpFilter.Attach"/>
/// (or <see cref="XdpFilter.Open"/> for tools). Map calls go to the kernel at once and are safe from any thread;
/// each takes effect for the next packet. Errors are <see cref="BpfException"/>s naming the call and map.
/// </summary>
public interface IXdpFilter : IDisposable
{
    /// <summary>Interface, mode in use and program id.</summary>
    XdpAttachment Attachment { get; }

    /// <summary>Sampled events from the ring buffer (completed when the filter is disposed, or empty when not read).</summary>
    ChannelReader<XdpEvent> Events { get; }

    /// <summary>Per-outcome counters summed over every CPU since the program was loaded.</summary>
    XdpStatistics ReadStatistics();

    /// <summary>Replaces the set of UDP destination ports the program inspects.</summary>
    void SetPorts(IReadOnlyCollection<ushort> ports);

    IReadOnlyList<ushort> GetPorts();

    /// <summary>Replaces the ai_params entry (defaults for devices without an override, sampling, event cap).</summary>
    void SetParameters(XdpParameters parameters);

    XdpParameters GetParameters();

    /// <summary>Drops every packet of the device until <paramref name="ttl"/> has passed (null = until unblocked).</summary>
    void Block(ulong deviceKey, TimeSpan? ttl, uint reason);

    /// <summary>False when the device was not blocked.</summary>
    bool Unblock(ulong deviceKey);

    /// <summary>Every blocklist entry, expired ones included (<see cref="BlockedDevice.IsExpired"/>).</summary>
    IReadOnlyList<BlockedDevice> ListBlocked();

    /// <summary>Deletes expired blocklist entries (the program ignores them already); returns how many.</summary>
    int PurgeExpiredBlocks();

    /// <summary>Sets the device's own token bucket, kept even when the device is evicted from device_limits.</summary>
    void SetDeviceLimit(ulong deviceKey, DeviceLimit limit);

    /// <summary>The device follows the defaults again; false when it had no limit of its own.</summary>
    bool RemoveDeviceLimit(ulong deviceKey);

    /// <summary>Every per-device limit.</summary>
    IReadOnlyList<DeviceLimitEntry> ListDeviceLimits();

    /// <summary>The device's token bucket as the kernel has it now; false when the device has not been seen (or was evicted).</summary>
    bool TryGetDeviceState(ulong deviceKey, out DeviceState state);
}

/// <summary>A blocklist entry. <see cref="ExpiresIn"/> null = never expires; zero or negative = expired.</summary>
public sealed record BlockedDevice(ulong DeviceKey, uint Reason, TimeSpan? ExpiresIn)
{
    public bool IsExpired => ExpiresIn is { } left && left <= TimeSpan.Zero;
}

public sealed record DeviceLimitEntry(ulong DeviceKey, DeviceLimit Limit);

/// <summary>A device's bucket: tokens now (may read slightly negative under contention), and its own limit or null for the defaults.</summary>
public sealed record DeviceState(long Tokens, DeviceLimit? Limit, TimeSpan SinceLastRefill);

/// <summary>Packets and bytes (Ethernet frame lengths) of one outcome.</summary>
public readonly record struct XdpCounter(ulong Packets, ulong Bytes)
{
    public static XdpCounter operator +(XdpCounter a, XdpCounter b) => new(a.Packets + b.Packets, a.Bytes + b.Bytes);

    public static XdpCounter Add(XdpCounter a, XdpCounter b) => a + b;
}

/// <summary>
/// The program's counters summed over CPUs. Every packet the program saw is in exactly one of the first six.
/// </summary>
public sealed record XdpStatistics(
    XdpCounter Passed,
    XdpCounter DroppedSize,
    XdpCounter DroppedMagic,
    XdpCounter DroppedBlocked,
    XdpCounter DroppedRate,
    XdpCounter NotKlais,
    ulong EventsLost,
    long EventsDroppedInUserSpace)
{
    /// <summary>Every packet dropped in the kernel.</summary>
    public XdpCounter Dropped => DroppedSize + DroppedMagic + DroppedBlocked + DroppedRate;

    /// <summary>Every packet the program ran on.</summary>
    public XdpCounter Total => Passed + Dropped + NotKlais;
}
