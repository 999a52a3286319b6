using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Klais.Xdp.Native;

namespace Klais.Xdp.Events;

/// <summary>
/// Reads the <c>events</c> ring buffer on a thread of its own (ring_buffer__poll) and writes each record to a
/// bounded channel. When the consumer falls behind, new events are dropped and counted (<see cref="Dropped"/>),
/// never queued without bound: the program's sampling already bounds what arrives.
/// </summary>
internal sealed unsafe class XdpEventReader : IDisposable
{
    // ring_buffer__poll's timeout: how long Dispose may wait for the polling thread to notice.
    private const int PollTimeoutMs = 50;
    private const int EINTR = 4;

    private readonly Channel<XdpEvent> _channel;
    private readonly SafeRingBufferHandle _ring;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stopping;
    private long _dropped;

    public XdpEventReader(SafeBpfFdHandle eventsMap, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _channel = Channel.CreateBounded<XdpEvent>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleWriter = true },
            _ => Interlocked.Increment(ref _dropped));
        _self = GCHandle.Alloc(this);
        try
        {
            _ring = Interop.Libbpf.NewRingBuffer(eventsMap, BpfNames.Events, &OnSample, GCHandle.ToIntPtr(_self));
        }
        catch
        {
            _self.Free();
            throw;
        }

        _thread = new Thread(Poll) { IsBackground = true, Name = "klais-xdp-events" };
        _thread.Start();
    }

    public ChannelReader<XdpEvent> Reader => _channel.Reader;

    /// <summary>Events dropped because the channel was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }

        _ring.Dispose();
        _self.Free();
        _channel.Writer.TryComplete();
    }

    internal static XdpEvent ToEvent(in KlaisEvent record)
    {
        ReadOnlySpan<byte> id = record.DeviceId;
        int end = id.IndexOf((byte)0);
        string deviceId = Encoding.UTF8.GetString(end < 0 ? id : id[..end]);
        var address = new IPAddress(record.SourceAddr);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return new XdpEvent((XdpEventKind)record.Kind, record.TimestampNs, record.DeviceKey, deviceId,
            new IPEndPoint(address, record.SourcePort), record.Sequence, record.Reason);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnSample(nint context, void* data, nuint size)
    {
        // An exception must not cross into libbpf: a record that cannot be read is skipped.
        try
        {
            if (size >= (nuint)sizeof(KlaisEvent) && GCHandle.FromIntPtr(context).Target is XdpEventReader reader)
            {
                reader._channel.Writer.TryWrite(ToEvent(Unsafe.ReadUnaligned<KlaisEvent>(data)));
            }
        }
        catch (Exception)
        {
            // nothing sensible to do on the polling thread; the record is lost
        }

        return 0;
    }

    private void Poll()
    {
        while (!_stopping)
        {
            int result = Interop.Libbpf.PollRingBuffer(_ring, PollTimeoutMs);
            if (result < 0 && result != -EINTR)
            {
                _channel.Writer.TryComplete(new BpfException("ring_buffer__poll(events)", -result));
                return;
            }
        }
    }
}
