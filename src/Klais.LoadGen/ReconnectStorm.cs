using System.Buffers.Text;
using System.Text;
using Klais.Contracts.Wire;

namespace Klais.LoadGen;

/// <summary>
/// The buffered history of devices that were offline, flushed when they reconnect at once: each of the storm's devices
/// sends <c>history</c> records with sequences start, start + 1, … and the old timestamps of the readings they
/// buffered. Records go round by round (record k of every device, then record k + 1), so every device's sequences
/// arrive in order, as a device flushing its buffer sends them. Record k of a device (from 0) is stamped
/// <c>flush start − (history − k) × interval</c>: the newest reading is one interval old. Payload:
/// <c>{"ts":&lt;unix ms, 13 digits&gt;,"t":21.5,"h":40,"pad":"xx…"}</c> padded to the payload size. Prepared up front;
/// writing allocates nothing.
/// </summary>
internal sealed class ReconnectStorm
{
    private const string Head = "{\"ts\":";
    private const int StampDigits = 13; // Unix milliseconds from 2001 to 2286
    private readonly byte[][] _deviceIds;
    private readonly byte[] _payload;
    private readonly int _history;
    private readonly uint _startSequence;
    private readonly long _intervalMs;
    private long _flushStartMs = -1;
    private long _written;

    /// <param name="devices">Devices that reconnect.</param>
    /// <param name="firstDevice">Index of the first of them (0: <c>dev-000001</c>).</param>
    /// <param name="history">Buffered records each device flushes.</param>
    /// <param name="startSequence">Sequence of each device's oldest buffered record.</param>
    /// <param name="payloadBytes">Payload size (at least <see cref="MinPayloadBytes"/>).</param>
    /// <param name="interval">Time between two buffered readings of a device.</param>
    public ReconnectStorm(int devices, int firstDevice, int history, uint startSequence, int payloadBytes, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(history, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(payloadBytes, MinPayloadBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromMilliseconds(1));
        _deviceIds = new byte[devices][];
        for (int i = 0; i < devices; i++)
        {
            _deviceIds[i] = Encoding.ASCII.GetBytes(DatagramFactory.DeviceId(firstDevice + i));
        }

        // The stamp replaces the live payload's opening brace: {"ts":0000000000000,"t":21.5,…}.
        byte[] live = DatagramFactory.Payload(payloadBytes - Head.Length - StampDigits);
        _payload = [.. Encoding.ASCII.GetBytes(Head + new string('0', StampDigits) + ","), .. live.AsSpan(1)];
        _history = history;
        _startSequence = startSequence;
        _intervalMs = (long)interval.TotalMilliseconds;
    }

    /// <summary>Smallest payload: the stamp and the live payload's fields.</summary>
    public static int MinPayloadBytes => Head.Length + StampDigits + LoadGeneratorOptions.MinPayloadBytes;

    /// <summary>Records the storm sends: devices × history.</summary>
    public long Planned => (long)_deviceIds.Length * _history;

    /// <summary>Records written so far.</summary>
    public long Written => _written;

    public bool Done => _written >= Planned;

    /// <summary>Unix milliseconds the flush started at (the reference of the old timestamps); -1 before it started.</summary>
    public long FlushStartUnixMs => _flushStartMs;

    public int MaxDatagramBytes => Datagram.HeaderLength + _payload.Length;

    /// <summary>The devices reconnect now: the buffered readings are stamped relative to <paramref name="unixMs"/>.</summary>
    public void Start(long unixMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(unixMs - _history * _intervalMs, 1_000_000_000_000L);
        _flushStartMs = unixMs;
    }

    /// <summary>Writes the next buffered record; returns its length.</summary>
    public int Write(Span<byte> destination)
    {
        if (_flushStartMs < 0 || Done)
        {
            throw new InvalidOperationException(Done ? "The storm has sent its whole history." : "The storm has not started.");
        }

        long round = _written / _deviceIds.Length;
        int device = (int)(_written % _deviceIds.Length);
        _written++;
        int length = Datagram.Write(destination, _deviceIds[device], unchecked(_startSequence + (uint)round), _payload);
        long stamp = _flushStartMs - (_history - round) * _intervalMs;
        Utf8Formatter.TryFormat(stamp, destination.Slice(Datagram.HeaderLength + Head.Length, StampDigits), out _);
        return length;
    }
}
