using System.Net;

namespace Klais.Xdp;

/// <summary>Why the program raised an event (enum klais_event_kind).</summary>
public enum XdpEventKind : byte
{
    /// <summary>A device got its token bucket: its first packet, or its first since it was evicted from the LRU map.</summary>
    FirstSeen = 1,

    /// <summary>A sampled drop of a blocklisted device.</summary>
    Blocked = 2,

    /// <summary>A sampled drop of a device over its rate.</summary>
    RateLimited = 3,
}

/// <summary>
/// One record of the <c>events</c> ring buffer. <see cref="TimestampNs"/> is CLOCK_MONOTONIC (bpf_ktime_get_ns);
/// <see cref="DeviceId"/> is the id text before its NUL padding (invalid UTF-8 replaced).
/// </summary>
public sealed record XdpEvent(
    XdpEventKind Kind,
    ulong TimestampNs,
    ulong DeviceKey,
    string DeviceId,
    IPEndPoint Source,
    uint Sequence,
    uint Reason);
