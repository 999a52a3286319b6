using System.Collections.Concurrent;
using System.Text;
using Klais.Contracts.Wire;

namespace Klais.Edge.Devices;

/// <summary>Why a device was blocked, as the kernel's blocklist stores it (a number; the text stays in user space).</summary>
internal enum BlockSource : uint
{
    Operator = 1,
    ControlPlane = 2,
}

/// <summary>A blocklist entry as the API shows it.</summary>
internal sealed record BlockEntry(string DeviceId, ulong DeviceKey, string Reason, BlockSource Source, DateTimeOffset BlockedAt, DateTimeOffset? ExpiresAt);

/// <summary>A device's own limit: <paramref name="Rate"/> datagrams/s, bursts of <paramref name="Burst"/>.</summary>
internal sealed record LimitEntry(string DeviceId, ulong DeviceKey, double Rate, long Burst);

/// <summary>What the kernel side does with every change; implemented over the XDP maps when XDP is attached.</summary>
internal interface IDevicePolicyMirror
{
    void Block(ulong deviceKey, TimeSpan? ttl, BlockSource source);

    void Unblock(ulong deviceKey);

    void SetLimit(ulong deviceKey, double rate, long burst);

    void RemoveLimit(ulong deviceKey);
}

/// <summary>
/// The edge's blocklist and per-device limits. The API and the control plane change them here; this table is what
/// <c>GET /blocklist</c> shows. When XDP is attached every change is mirrored into the BPF maps and the kernel
/// enforces it; when it is not, <see cref="Check"/> enforces the same rules in user space, so a device behaves the
/// same either way.
/// </summary>
/// <remarks>
/// Hot path: with no entries, <see cref="Check"/> is two volatile reads. With entries, one dictionary lookup per
/// table (no allocation); the clock is read only for a device that has an entry.
/// </remarks>
internal sealed class DevicePolicy
{
    /// <summary>Highest rate of a device's own limit, datagrams per second (<c>PUT /limits</c> and the control plane).</summary>
    public const long MaxLimitRate = 10_000_000;

    /// <summary>Largest burst of a device's own limit.</summary>
    public const long MaxLimitBurst = 100_000_000;

    private readonly ConcurrentDictionary<ulong, ActiveBlock> _blocked = new();
    private readonly ConcurrentDictionary<ulong, DeviceBucket> _limits = new();
    private readonly TimeProvider _time;
    private readonly Lock _changeGate = new();
    private IDevicePolicyMirror? _mirror;
    private int _blockedCount;
    private int _limitCount;

    public DevicePolicy(TimeProvider time) => _time = time;

    /// <summary>True: <see cref="Check"/> enforces (XDP is off). False: the kernel does, and Check passes everything.</summary>
    public bool EnforceInUserSpace { get; private set; } = true;

    /// <summary>Hands enforcement to the kernel: every current entry is written to the maps, and every later change too.</summary>
    public void MirrorTo(IDevicePolicyMirror mirror)
    {
        lock (_changeGate)
        {
            foreach (ActiveBlock block in _blocked.Values)
            {
                mirror.Block(block.Entry.DeviceKey, Remaining(block), block.Entry.Source);
            }

            foreach ((ulong key, DeviceBucket bucket) in _limits)
            {
                mirror.SetLimit(key, bucket.Rate, bucket.Burst);
            }

            _mirror = mirror;
            EnforceInUserSpace = false;
        }
    }

    /// <summary>The verdict for one datagram of the device: None (go on), Blocked or DeviceRateLimited.</summary>
    public Rejection Check(ulong deviceKey)
    {
        if (!EnforceInUserSpace)
        {
            return Rejection.None;
        }

        if (Volatile.Read(ref _blockedCount) > 0 && _blocked.TryGetValue(deviceKey, out ActiveBlock? block))
        {
            if (block.ExpiresAtTimestamp > _time.GetTimestamp())
            {
                return Rejection.Blocked;
            }

            Expire(deviceKey, block);
        }

        if (Volatile.Read(ref _limitCount) > 0 && _limits.TryGetValue(deviceKey, out DeviceBucket? bucket)
            && !bucket.TryTake(_time.GetTimestamp(), _time.TimestampFrequency))
        {
            return Rejection.DeviceRateLimited;
        }

        return Rejection.None;
    }

    /// <summary>Blocks the device for <paramref name="ttl"/> (null: until unblocked); replaces an existing entry.</summary>
    public BlockEntry Block(string deviceId, TimeSpan? ttl, string reason, BlockSource source)
    {
        ulong key = KeyOf(deviceId);
        DateTimeOffset now = _time.GetUtcNow();
        var entry = new BlockEntry(deviceId, key, reason, source, now, ttl is { } t ? now + t : null);
        long expires = ttl is { } span ? _time.GetTimestamp() + (long)(span.TotalSeconds * _time.TimestampFrequency) : long.MaxValue;
        lock (_changeGate)
        {
            if (_blocked.TryAdd(key, new ActiveBlock(entry, expires)))
            {
                Interlocked.Increment(ref _blockedCount);
            }
            else
            {
                _blocked[key] = new ActiveBlock(entry, expires);
            }

            _mirror?.Block(key, ttl, source);
        }

        return entry;
    }

    /// <summary>False when the device was not blocked (or its block had expired).</summary>
    public bool Unblock(string deviceId)
    {
        ulong key = KeyOf(deviceId);
        lock (_changeGate)
        {
            bool removed = _blocked.TryRemove(key, out ActiveBlock? block) && block.ExpiresAtTimestamp > _time.GetTimestamp();
            if (block is not null)
            {
                Interlocked.Decrement(ref _blockedCount);
            }

            _mirror?.Unblock(key);
            return removed;
        }
    }

    /// <summary>Current blocks, expired ones removed first; ordered by device id.</summary>
    public IReadOnlyList<BlockEntry> ListBlocked()
    {
        foreach ((ulong key, ActiveBlock block) in _blocked)
        {
            if (block.ExpiresAtTimestamp <= _time.GetTimestamp())
            {
                Expire(key, block);
            }
        }

        return [.. _blocked.Values.Select(b => b.Entry).OrderBy(e => e.DeviceId, StringComparer.Ordinal)];
    }

    public LimitEntry SetLimit(string deviceId, double rate, long burst)
    {
        ulong key = KeyOf(deviceId);
        lock (_changeGate)
        {
            var bucket = new DeviceBucket(deviceId, rate, burst, _time.GetTimestamp());
            if (_limits.TryAdd(key, bucket))
            {
                Interlocked.Increment(ref _limitCount);
            }
            else
            {
                _limits[key] = bucket;
            }

            _mirror?.SetLimit(key, rate, burst);
        }

        return new LimitEntry(deviceId, key, rate, burst);
    }

    /// <summary>False when the device had no limit of its own.</summary>
    public bool RemoveLimit(string deviceId)
    {
        ulong key = KeyOf(deviceId);
        lock (_changeGate)
        {
            bool removed = _limits.TryRemove(key, out _);
            if (removed)
            {
                Interlocked.Decrement(ref _limitCount);
            }

            _mirror?.RemoveLimit(key);
            return removed;
        }
    }

    public IReadOnlyList<LimitEntry> ListLimits() =>
        [.. _limits.Select(p => new LimitEntry(p.Value.DeviceId, p.Key, p.Value.Rate, p.Value.Burst)).OrderBy(e => e.DeviceId, StringComparer.Ordinal)];

    /// <summary>
    /// Checks a device id as the API receives it: 1 to 16 bytes of UTF-8 without NUL, as on the wire. Null when
    /// valid, else the problem.
    /// </summary>
    public static string? ValidateDeviceId(string deviceId)
    {
        int bytes = Encoding.UTF8.GetByteCount(deviceId);
        if (bytes is 0 or > Datagram.DeviceIdLength)
        {
            return $"A device id is 1 to {Datagram.DeviceIdLength} bytes of UTF-8; \"{deviceId}\" is {bytes}.";
        }

        return deviceId.Contains('\0', StringComparison.Ordinal) ? "A device id cannot contain NUL." : null;
    }

    /// <summary>The device key of an id given as text: FNV-1a over the NUL-padded 16-byte field, as the parser and the kernel compute it.</summary>
    public static ulong KeyOf(string deviceId)
    {
        if (ValidateDeviceId(deviceId) is { } problem)
        {
            throw new ArgumentException(problem, nameof(deviceId));
        }

        Span<byte> raw = stackalloc byte[Datagram.DeviceIdLength];
        raw.Clear();
        Encoding.UTF8.GetBytes(deviceId, raw);
        return DeviceKey.Compute(raw);
    }

    private TimeSpan? Remaining(ActiveBlock block) => block.ExpiresAtTimestamp == long.MaxValue
        ? null
        : TimeSpan.FromSeconds(Math.Max(0, (block.ExpiresAtTimestamp - _time.GetTimestamp()) / (double)_time.TimestampFrequency));

    private void Expire(ulong key, ActiveBlock block)
    {
        // Remove only this entry: a new block of the same device, made meanwhile, stays.
        if (_blocked.TryRemove(new KeyValuePair<ulong, ActiveBlock>(key, block)))
        {
            Interlocked.Decrement(ref _blockedCount);
        }
    }

    private sealed record ActiveBlock(BlockEntry Entry, long ExpiresAtTimestamp);

    /// <summary>A token bucket for one device; rare (only devices with their own limit), so a lock is fine.</summary>
    private sealed class DeviceBucket(string deviceId, double rate, long burst, long now)
    {
        private readonly Lock _gate = new();
        private double _tokens = burst;
        private long _last = now;

        public string DeviceId { get; } = deviceId;

        public double Rate { get; } = rate;

        public long Burst { get; } = burst;

        public bool TryTake(long now, long frequency)
        {
            lock (_gate)
            {
                if (now > _last)
                {
                    _tokens = Math.Min(Burst, _tokens + ((now - _last) * Rate / frequency));
                    _last = now;
                }

                if (_tokens < 1)
                {
                    return false;
                }

                _tokens -= 1;
                return true;
            }
        }
    }
}
