using System.Buffers.Binary;

namespace Klais.Contracts.Wire;

/// <summary>
/// The device → edge datagram (design section 2):
/// <c>magic u16 BE 0xAA55 | device_id 16 bytes UTF-8 NUL-padded | sequence u32 BE | payload JSON</c>.
/// </summary>
public static class Datagram
{
    public const ushort Magic = 0xAA55;
    public const int MagicOffset = 0;
    public const int DeviceIdOffset = 2;
    public const int DeviceIdLength = 16;
    public const int SequenceOffset = 18;
    public const int HeaderLength = 22;

    /// <summary>
    /// Parses a datagram in place. Returns <see cref="Rejection.None"/> and the header fields on success,
    /// else the first rule it breaks. Allocates nothing. JSON is checked only when
    /// <paramref name="validateJson"/> is set (<see cref="JsonSyntax"/>, one pass over the span: no allocation either).
    /// </summary>
    public static Rejection TryParse(
        ReadOnlySpan<byte> datagram,
        int maxPayloadBytes,
        bool validateJson,
        out DatagramHeader header,
        out ReadOnlySpan<byte> payload)
    {
        header = default;
        payload = default;

        if (datagram.Length < HeaderLength)
        {
            return Rejection.TooShort;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(datagram) != Magic)
        {
            return Rejection.BadMagic;
        }

        ReadOnlySpan<byte> rawId = datagram.Slice(DeviceIdOffset, DeviceIdLength);
        int idLength = DeviceIdTextLength(rawId);
        if (idLength <= 0)
        {
            return Rejection.BadDeviceId;
        }

        ReadOnlySpan<byte> body = datagram[HeaderLength..];
        if (body.Length > maxPayloadBytes)
        {
            return Rejection.PayloadTooLarge;
        }

        if (validateJson && !JsonSyntax.IsValid(body))
        {
            return Rejection.InvalidJson;
        }

        header = new DatagramHeader(
            DeviceKey.Compute(rawId),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[SequenceOffset..]),
            (byte)idLength);
        payload = body;
        return Rejection.None;
    }

    /// <summary>The device id's text bytes (padding removed) of a datagram that parsed.</summary>
    public static ReadOnlySpan<byte> DeviceIdText(ReadOnlySpan<byte> datagram, in DatagramHeader header) =>
        datagram.Slice(DeviceIdOffset, header.DeviceIdLength);

    /// <summary>
    /// Length of the id before the padding, or -1 when the field breaks a rule: empty, a non-NUL byte after
    /// the first NUL, or not valid UTF-8.
    /// </summary>
    internal static int DeviceIdTextLength(ReadOnlySpan<byte> rawId)
    {
        int nul = rawId.IndexOf((byte)0);
        if (nul == 0)
        {
            return -1;
        }

        if (nul > 0)
        {
            if (rawId[nul..].ContainsAnyExcept((byte)0))
            {
                return -1;
            }
        }
        else
        {
            nul = rawId.Length;
        }

        return System.Text.Unicode.Utf8.IsValid(rawId[..nul]) ? nul : -1;
    }

    /// <summary>Writes a datagram; returns its length. Used by the load generator and tests.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> deviceIdText, uint sequence, ReadOnlySpan<byte> payload)
    {
        if (deviceIdText.Length is 0 or > DeviceIdLength)
        {
            throw new ArgumentException($"A device id is 1 to {DeviceIdLength} bytes; got {deviceIdText.Length}.", nameof(deviceIdText));
        }

        int length = HeaderLength + payload.Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; the datagram needs {length}.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, Magic);
        Span<byte> id = destination.Slice(DeviceIdOffset, DeviceIdLength);
        id.Clear();
        deviceIdText.CopyTo(id);
        BinaryPrimitives.WriteUInt32BigEndian(destination[SequenceOffset..], sequence);
        payload.CopyTo(destination[HeaderLength..]);
        return length;
    }
}

/// <summary>The fixed fields of a datagram that parsed.</summary>
public readonly record struct DatagramHeader(ulong DeviceKey, uint Sequence, byte DeviceIdLength);
