using System.Threading.Channels;
using Klais.Contracts.Wire;
using Klais.Net;
using Klais.Xdp.Attach;
using Klais.Xdp.Events;
using Klais.Xdp.Native;

namespace Klais.Xdp;

/// <summary>
/// The KLAIS XDP program attached to an interface, with typed access to its maps. See <see cref="IXdpFilter"/>.
/// Needs CAP_BPF and CAP_NET_ADMIN (docs/xdp.md).
/// </summary>
public sealed class XdpFilter : IXdpFilter
{
    private readonly XdpProgram _program;
    private readonly NetworkNamespace _namespace;
    private readonly XdpEventReader? _events;
    private readonly bool _detachOnDispose;
    private readonly ChannelReader<XdpEvent> _eventReader;
    private int _disposed;

    private XdpFilter(XdpProgram program, XdpAttachment attachment, NetworkNamespace ns, bool detachOnDispose, int eventCapacity)
    {
        _program = program;
        _namespace = ns;
        _detachOnDispose = detachOnDispose;
        Attachment = attachment;
        if (eventCapacity > 0)
        {
            _events = new XdpEventReader(program.EventsFd, eventCapacity);
            _eventReader = _events.Reader;
        }
        else
        {
            var none = Channel.CreateBounded<XdpEvent>(1);
            none.Writer.Complete();
            _eventReader = none.Reader;
        }
    }

    public XdpAttachment Attachment { get; }

    public ChannelReader<XdpEvent> Events => _eventReader;

    /// <summary>The loaded program and maps, for tests (BPF_PROG_TEST_RUN) and inspection.</summary>
    internal XdpProgram Program => _program;

    /// <summary>
    /// Loads the program, writes the ports and parameters, attaches it (replacing a stale KLAIS program when
    /// allowed) and starts reading events.
    /// </summary>
    public static XdpFilter Attach(XdpOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        NetworkNamespace ns = options.NetworkNamespace is null ? NetworkNamespace.Current() : NetworkNamespace.Open(options.NetworkNamespace);
        XdpProgram? program = null;
        try
        {
            program = XdpProgram.Load(options.ObjectPath);
            program.WriteParameters(options.Parameters);
            program.WritePorts(options.Ports);
            XdpProgram loaded = program;
            XdpAttachment attachment = ns.Run(() => XdpAttacher.Attach(loaded, options.Interface, options.Mode, options.ReplaceStaleProgram));
            try
            {
                return new XdpFilter(program, attachment, ns, options.DetachOnDispose, options.EventChannelCapacity);
            }
            catch
            {
                ns.Run(() => XdpAttacher.Detach(attachment, loaded.ProgramFd));
                throw;
            }
        }
        catch
        {
            program?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The KLAIS program already attached to <paramref name="interfaceName"/> (by an edge, or by <c>klais-xdp attach</c>),
    /// for inspection and map changes. Disposing it does not detach.
    /// </summary>
    public static XdpFilter Open(string interfaceName, string? networkNamespace = null, int eventChannelCapacity = 0)
    {
        NetworkNamespace ns = networkNamespace is null ? NetworkNamespace.Current() : NetworkNamespace.Open(networkNamespace);
        XdpProgram? program = null;
        try
        {
            (uint id, XdpMode mode, int ifindex) = ns.Run(() =>
            {
                int index = XdpAttacher.ResolveInterface(interfaceName);
                uint programId = XdpAttacher.AttachedKlaisProgramId(interfaceName);
                XdpQueryResult query = Interop.Libbpf.QueryXdp(index, interfaceName);
                return (programId, query.SkbProgramId == programId ? XdpMode.Generic : XdpMode.Native, index);
            });
            if (id == 0)
            {
                throw new InvalidOperationException($"No KLAIS XDP program is attached to {interfaceName}.");
            }

            program = XdpProgram.FromProgramId(id);
            return new XdpFilter(program, new XdpAttachment(interfaceName, ifindex, mode, id), ns, detachOnDispose: false, eventChannelCapacity);
        }
        catch
        {
            program?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Detaches the KLAIS program from <paramref name="interfaceName"/> whoever attached it; false when none was attached.</summary>
    public static bool Detach(string interfaceName, string? networkNamespace = null)
    {
        using NetworkNamespace ns = networkNamespace is null ? NetworkNamespace.Current() : NetworkNamespace.Open(networkNamespace);
        return ns.Run(() => XdpAttacher.DetachKlaisProgram(interfaceName));
    }

    public XdpStatistics ReadStatistics() => _program.ReadStatistics(_events?.Dropped ?? 0);

    public void SetPorts(IReadOnlyCollection<ushort> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        IReadOnlyList<string> errors = (new XdpOptions { Interface = "x", Ports = ports.ToArray() }).Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(ports));
        }

        _program.WritePorts(ports);
    }

    public IReadOnlyList<ushort> GetPorts() => _program.Ports.Keys().Order().ToArray();

    public void SetParameters(XdpParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        IReadOnlyList<string> errors = parameters.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(parameters));
        }

        _program.WriteParameters(parameters);
    }

    public XdpParameters GetParameters()
    {
        _program.AiParams.TryLookup(0, out KlaisParams p);
        return new XdpParameters
        {
            DefaultMaxTokens = p.DefaultMaxTokens,
            DefaultRefillRate = p.DefaultRefillRate,
            SampleEvery = p.SampleEvery,
            EventsPerSecond = p.EventsPerSec,
        };
    }

    public void Block(ulong deviceKey, TimeSpan? ttl, uint reason)
    {
        if (ttl is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "A block's time to live must be positive (null = until unblocked).");
        }

        ulong expires = ttl is { } live ? Interop.Libc.MonotonicNanoseconds() + (ulong)live.Ticks * 100UL : 0;
        _program.Blocklist.Update(deviceKey, new KlaisBlock { ExpiresNs = expires, Reason = reason });
    }

    public bool Unblock(ulong deviceKey) => _program.Blocklist.Delete(deviceKey);

    public IReadOnlyList<BlockedDevice> ListBlocked()
    {
        ulong now = Interop.Libc.MonotonicNanoseconds();
        return _program.Blocklist.Entries()
            .Select(e => new BlockedDevice(e.Key, e.Value.Reason, e.Value.ExpiresNs == 0 ? null : Remaining(e.Value.ExpiresNs, now)))
            .ToArray();
    }

    public int PurgeExpiredBlocks()
    {
        int purged = 0;
        foreach (BlockedDevice entry in ListBlocked())
        {
            // Looked up again just before deleting, so an entry renewed meanwhile is kept (a renewal between the
            // check and the delete is still lost: the control plane's next update restores it).
            if (entry.IsExpired && _program.Blocklist.TryLookup(entry.DeviceKey, out KlaisBlock now) && now.ExpiresNs != 0
                && now.ExpiresNs <= Interop.Libc.MonotonicNanoseconds() && _program.Blocklist.Delete(entry.DeviceKey))
            {
                purged++;
            }
        }

        return purged;
    }

    public void SetDeviceLimit(ulong deviceKey, DeviceLimit limit)
    {
        IReadOnlyList<string> errors = limit.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(limit));
        }

        _program.LimitOverrides.Update(deviceKey, new KlaisLimit { MaxTokens = limit.MaxTokens, RefillRate = limit.RefillRate });
        // A device already seen gets a full bucket of the new size at once; one not seen yet picks the override up
        // when its first packet creates its bucket.
        var bucket = new KlaisBucket
        {
            Tokens = (long)Math.Min(limit.MaxTokens, long.MaxValue),
            LastRefillNs = Interop.Libc.MonotonicNanoseconds(),
            MaxTokens = limit.MaxTokens,
            RefillRate = limit.RefillRate,
        };
        UpdateExistingBucket(deviceKey, bucket);
    }

    public bool RemoveDeviceLimit(ulong deviceKey)
    {
        bool had = _program.LimitOverrides.Delete(deviceKey);
        if (_program.DeviceLimits.TryLookup(deviceKey, out KlaisBucket bucket))
        {
            bucket.MaxTokens = 0;
            bucket.RefillRate = 0;
            UpdateExistingBucket(deviceKey, bucket);
        }

        return had;
    }

    public IReadOnlyList<DeviceLimitEntry> ListDeviceLimits() =>
        _program.LimitOverrides.Entries()
            .Select(e => new DeviceLimitEntry(e.Key, new DeviceLimit(e.Value.MaxTokens, e.Value.RefillRate)))
            .ToArray();

    public bool TryGetDeviceState(ulong deviceKey, out DeviceState state)
    {
        if (!_program.DeviceLimits.TryLookup(deviceKey, out KlaisBucket bucket))
        {
            state = null!;
            return false;
        }

        ulong now = Interop.Libc.MonotonicNanoseconds();
        DeviceLimit? limit = bucket.RefillRate == 0 ? null : new DeviceLimit(bucket.MaxTokens, bucket.RefillRate);
        state = new DeviceState(bucket.Tokens, limit, now > bucket.LastRefillNs ? Remaining(now, bucket.LastRefillNs) : TimeSpan.Zero);
        return true;
    }

    /// <summary>Stops the event reader, detaches (when this filter attached and was asked to) and closes every descriptor.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _events?.Dispose();
            if (_detachOnDispose)
            {
                // In the namespace it was attached in, whichever thread disposes.
                _namespace.Run(() => XdpAttacher.Detach(Attachment, _program.ProgramFd));
            }
        }
        finally
        {
            _program.Dispose();
            _namespace.Dispose();
        }
    }

    private static TimeSpan Remaining(ulong later, ulong earlier) =>
        later >= earlier ? TimeSpan.FromTicks((long)((later - earlier) / 100)) : -TimeSpan.FromTicks((long)((earlier - later) / 100));

    private void UpdateExistingBucket(ulong deviceKey, KlaisBucket bucket)
    {
        try
        {
            _program.DeviceLimits.Update(deviceKey, bucket, Interop.Libbpf.UpdateExist);
        }
        catch (BpfException e) when (e.Errno == Errnos.ENOENT)
        {
            // Not seen yet (or evicted): the program will create the bucket from limit_overrides.
        }
    }
}

/// <summary>Calls by device id text (as in the datagram, before padding) instead of the 64-bit key.</summary>
public static class XdpFilterExtensions
{
    /// <summary>The key of a device id: FNV-1a 64 over the id NUL-padded to 16 bytes (<see cref="DeviceKey"/>).</summary>
    public static ulong KeyOf(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        Span<byte> raw = stackalloc byte[Datagram.DeviceIdLength];
        raw.Clear();
        if (System.Text.Encoding.UTF8.GetByteCount(deviceId) > raw.Length)
        {
            throw new ArgumentException($"A device id is at most {Datagram.DeviceIdLength} bytes of UTF-8; \"{deviceId}\" is longer.", nameof(deviceId));
        }

        System.Text.Encoding.UTF8.GetBytes(deviceId, raw);
        return DeviceKey.Compute(raw);
    }

    public static void Block(this IXdpFilter filter, string deviceId, TimeSpan? ttl, uint reason)
    {
        ArgumentNullException.ThrowIfNull(filter);
        filter.Block(KeyOf(deviceId), ttl, reason);
    }

    public static bool Unblock(this IXdpFilter filter, string deviceId)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return filter.Unblock(KeyOf(deviceId));
    }

    public static void SetDeviceLimit(this IXdpFilter filter, string deviceId, DeviceLimit limit)
    {
        ArgumentNullException.ThrowIfNull(filter);
        filter.SetDeviceLimit(KeyOf(deviceId), limit);
    }
}
