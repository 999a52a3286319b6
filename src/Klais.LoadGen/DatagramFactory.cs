using System.Globalization;
using System.Text;
using Klais.Contracts.Wire;

namespace Klais.LoadGen;

/// <summary>
/// Writes the datagrams of each <see cref="DatagramKind"/>. Valid datagram v goes to device v mod N with sequence
/// start + v div N, so every device counts up by one from the start sequence. A replay resends the latest valid
/// (device, sequence). Everything is prepared up front; writing allocates nothing.
/// </summary>
internal sealed class DatagramFactory
{
    private readonly byte[][] _deviceIds;
    private readonly byte[] _payload;
    private readonly uint _startSequence;
    private long _valid;
    private int _lastDevice = -1;
    private uint _lastSequence;

    /// <param name="firstDevice">Index of the first device (0: <c>dev-000001</c>).</param>
    public DatagramFactory(int devices, int payloadBytes, uint startSequence, int firstDevice = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(firstDevice);
        _deviceIds = new byte[devices][];
        for (int i = 0; i < devices; i++)
        {
            _deviceIds[i] = Encoding.ASCII.GetBytes(DeviceId(firstDevice + i));
        }

        _payload = Payload(payloadBytes);
        _startSequence = startSequence;
    }

    /// <summary>Largest datagram written: header plus payload.</summary>
    public int MaxDatagramBytes => Datagram.HeaderLength + _payload.Length;

    /// <summary>The id of device <paramref name="index"/> (from 0): <c>dev-000001</c> for 0.</summary>
    public static string DeviceId(int index) => "dev-" + (index + 1).ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>
    /// <c>{"t":21.5,"h":40,"pad":"xx…"}</c> padded to <paramref name="bytes"/> (at least
    /// <see cref="LoadGeneratorOptions.MinPayloadBytes"/>).
    /// </summary>
    public static byte[] Payload(int bytes)
    {
        const string Head = "{\"t\":21.5,\"h\":40,\"pad\":\"";
        const string Tail = "\"}";
        int pad = Math.Max(0, bytes - Head.Length - Tail.Length);
        return Encoding.ASCII.GetBytes(Head + new string('x', pad) + Tail);
    }

    /// <summary>
    /// Writes a datagram of <paramref name="kind"/>; returns its length and the kind written, which is
    /// <see cref="DatagramKind.Valid"/> for a replay asked for before anything valid was sent.
    /// </summary>
    public int Write(DatagramKind kind, Span<byte> destination, out DatagramKind written)
    {
        written = kind == DatagramKind.Replay && _lastDevice < 0 ? DatagramKind.Valid : kind;
        switch (written)
        {
            case DatagramKind.Valid:
                _lastDevice = (int)(_valid % _deviceIds.Length);
                _lastSequence = unchecked(_startSequence + (uint)(_valid / _deviceIds.Length));
                _valid++;
                return Datagram.Write(destination, _deviceIds[_lastDevice], _lastSequence, _payload);
            case DatagramKind.Replay:
                return Datagram.Write(destination, _deviceIds[_lastDevice], _lastSequence, _payload);
            case DatagramKind.TooShort:
                // Magic and half the id: shorter than the 22-byte header.
                Datagram.Write(destination, _deviceIds[NextDevice], 0, _payload);
                return Datagram.HeaderLength / 2;
            case DatagramKind.BadMagic:
                int length = Datagram.Write(destination, _deviceIds[NextDevice], 0, _payload);
                destination[0] ^= 0xFF;
                return length;
            case DatagramKind.BadDeviceId:
                length = Datagram.Write(destination, _deviceIds[NextDevice], 0, _payload);
                destination.Slice(Datagram.DeviceIdOffset, Datagram.DeviceIdLength).Clear();
                return length;
            case DatagramKind.InvalidJson:
                // The payload without its closing brace: an unfinished object.
                return Datagram.Write(destination, _deviceIds[NextDevice], 0, _payload.AsSpan(0, _payload.Length - 1));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown datagram kind.");
        }
    }

    private int NextDevice => (int)(_valid % _deviceIds.Length);
}
