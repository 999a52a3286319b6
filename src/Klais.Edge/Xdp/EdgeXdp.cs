using Klais.Edge.Configuration;
using Klais.Edge.Devices;
using Klais.Edge.Hosting;
using Klais.Xdp;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Xdp;

/// <summary>The XDP filter could not be attached in a mode the operator demanded (native or generic): exit 2.</summary>
internal sealed class XdpStartException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The edge's kernel filter: attached at start-up when <c>KLAIS_XDP_IFACE</c> is set, fed the edge's UDP port,
/// given the blocklist and per-device limits (<see cref="DevicePolicy.MirrorTo"/>), read for <c>/stats</c>, and
/// detached on shutdown. Mode auto without privileges (or without XDP support) runs the edge without it and says
/// why in <c>/health</c>; native or generic fail the start instead.
/// </summary>
internal sealed partial class EdgeXdp : IAsyncDisposable
{
    private static readonly TimeSpan PurgeEvery = TimeSpan.FromSeconds(10);

    private readonly IXdpFilter? _filter;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _eventPump = Task.CompletedTask;
    private readonly ITimer? _purge;
    private readonly long[] _events = new long[4];

    private EdgeXdp(EdgeXdpMode requested, IXdpFilter? filter, string? notAttachedReason, ILogger log, TimeProvider time)
    {
        Requested = requested;
        _filter = filter;
        NotAttachedReason = notAttachedReason;
        _log = log;
        if (filter is not null)
        {
            _eventPump = PumpEventsAsync(filter, _stopping.Token);
            _purge = time.CreateTimer(_ => PurgeExpired(), null, PurgeEvery, PurgeEvery);
        }
    }

    public EdgeXdpMode Requested { get; }

    public bool Attached => _filter is not null;

    /// <summary>The mode in use ("native", "generic"), or "off".</summary>
    public string Mode => _filter?.Attachment.Mode switch
    {
        XdpMode.Native => "native",
        XdpMode.Generic => "generic",
        _ => "off",
    };

    public string? Interface => _filter?.Attachment.Interface;

    /// <summary>Why XDP is not attached although it was asked for (auto mode), or null.</summary>
    public string? NotAttachedReason { get; }

    public long EventCount(XdpEventKind kind) => Interlocked.Read(ref _events[(int)kind]);

    public XdpStatistics? ReadStatistics() => _filter?.ReadStatistics();

    /// <summary>Attaches per <paramref name="config"/>; hands the device policy to the kernel when attached.</summary>
    public static EdgeXdp Start(EdgeConfig config, DevicePolicy devices, ILogger log, TimeProvider time)
    {
        if (config.XdpMode == EdgeXdpMode.Off || config.XdpInterface is null)
        {
            return new EdgeXdp(EdgeXdpMode.Off, null, null, log, time);
        }

        XdpFilter filter;
        try
        {
            filter = XdpFilter.Attach(new XdpOptions
            {
                Interface = config.XdpInterface,
                Mode = config.XdpMode switch
                {
                    EdgeXdpMode.Native => XdpMode.Native,
                    EdgeXdpMode.Generic => XdpMode.Generic,
                    _ => XdpMode.Auto,
                },
                Ports = [(ushort)config.UdpBind.Port],
            });
        }
        catch (Exception e) when (e is BpfException or ArgumentException or IOException or InvalidOperationException or DllNotFoundException)
        {
            string reason = $"XDP could not be attached to {config.XdpInterface}: {e.Message}";
            if (config.XdpMode != EdgeXdpMode.Auto)
            {
                throw new XdpStartException(reason + $" (KLAIS_XDP_MODE={config.XdpMode.ToString().ToLowerInvariant()} demands it; use auto to run without XDP instead).", e);
            }

            LogNotAttached(log, reason);
            return new EdgeXdp(EdgeXdpMode.Auto, null, reason + " Filtering happens in user space.", log, time);
        }

        devices.MirrorTo(new XdpPolicyMirror(filter));
        XdpAttachment a = filter.Attachment;
        LogAttached(log, a.Interface, a.Mode.ToString().ToLowerInvariant(), a.ProgramId, a.ReplacedProgramId, config.UdpBind.Port);
        return new EdgeXdp(config.XdpMode, filter, null, log, time);
    }

    private async Task PumpEventsAsync(IXdpFilter filter, CancellationToken stop)
    {
        try
        {
            await foreach (XdpEvent e in filter.Events.ReadAllAsync(stop).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _events[(int)e.Kind]);
                if (e.Kind == XdpEventKind.FirstSeen)
                {
                    LogFirstSeen(_log, e.DeviceId, e.Source.ToString());
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void PurgeExpired()
    {
        try
        {
            _filter?.PurgeExpiredBlocks();
        }
        catch (BpfException e)
        {
            LogPurgeFailed(_log, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_purge is not null)
        {
            await _purge.DisposeAsync().ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _eventPump.ConfigureAwait(false);
        if (_filter is not null)
        {
            _filter.Dispose();
            LogDetached(_log, Interface ?? "?");
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = EventIds.XdpAttached, Level = LogLevel.Information,
        Message = "XDP filter attached to {Interface} in {Mode} mode (program {ProgramId}; replaced stale program {Replaced}) for UDP port {Port}")]
    private static partial void LogAttached(ILogger logger, string @interface, string mode, uint programId, uint replaced, int port);

    [LoggerMessage(EventId = EventIds.XdpNotAttached, Level = LogLevel.Warning, Message = "{Reason} Running without XDP: filtering happens in user space.")]
    private static partial void LogNotAttached(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.XdpDetached, Level = LogLevel.Information, Message = "XDP filter detached from {Interface}")]
    private static partial void LogDetached(ILogger logger, string @interface);

    [LoggerMessage(EventId = EventIds.XdpFirstSeen, Level = LogLevel.Debug, Message = "XDP: first packet of device {DeviceId} from {Source}")]
    private static partial void LogFirstSeen(ILogger logger, string deviceId, string source);

    [LoggerMessage(EventId = EventIds.XdpPurgeFailed, Level = LogLevel.Warning, Message = "XDP: purging expired blocks failed: {Error}")]
    private static partial void LogPurgeFailed(ILogger logger, string error);

    /// <summary>The device policy's changes, written to the BPF maps.</summary>
    private sealed class XdpPolicyMirror(IXdpFilter filter) : IDevicePolicyMirror
    {
        public void Block(ulong deviceKey, TimeSpan? ttl, BlockSource source) => filter.Block(deviceKey, ttl, (uint)source);

        public void Unblock(ulong deviceKey) => filter.Unblock(deviceKey);

        public void SetLimit(ulong deviceKey, double rate, long burst) =>
            filter.SetDeviceLimit(deviceKey, new DeviceLimit((ulong)burst, (ulong)Math.Max(1, Math.Round(rate))));

        public void RemoveLimit(ulong deviceKey) => filter.RemoveDeviceLimit(deviceKey);
    }
}
