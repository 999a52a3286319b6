using System.Buffers.Binary;
using Klais.Edge.Dam;

namespace Klais.Edge.Spill;

/// <summary>What <see cref="SpillFormat.TryRead"/> found at a position.</summary>
internal enum SpillReadStatus
{
    /// <summary>A whole record whose checksum matches.</summary>
    Record,

    /// <summary>The bytes end inside a record (or its frame): more may come, or the tail was torn.</summary>
    Incomplete,

    /// <summary>An impossible length or a checksum mismatch.</summary>
    Corrupt,
}

/// <summary>
/// Layout of spill segment files. A segment starts with the 8-byte magic <c>KLSPILL1</c>, then records:
/// <code>
/// u32 LE body length | u32 LE CRC-32C of the body | body
/// body = u32 LE sequence | i64 LE receive time (Unix ns) | u8 device-id length | device id | payload
/// </code>
/// The frame is the unit of atomicity: a record is valid only when its whole body is present and its CRC
/// matches, so a torn or damaged tail is recognised and never replayed.
/// </summary>
internal static class SpillFormat
{
    public const int FrameLength = 8;
    public const int FixedBodyLength = sizeof(uint) + sizeof(long) + 1;

    /// <summary>Largest body: a 255-byte id and a 64 KiB payload (a UDP datagram cannot carry more).</summary>
    public const int MaxBodyLength = FixedBodyLength + byte.MaxValue + 65_536;

    public const int MaxRecordLength = FrameLength + MaxBodyLength;

    public static ReadOnlySpan<byte> Magic => "KLSPILL1"u8;

    public static int HeaderLength => Magic.Length;

    public static int EncodedLength(in Admitted record) => FrameLength + FixedBodyLength + record.DeviceId.Length + record.Payload.Length;

    /// <summary>Writes <paramref name="record"/> framed into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(in Admitted record, Span<byte> destination)
    {
        if (record.DeviceId.Length > byte.MaxValue)
        {
            throw new ArgumentException($"A device id of {record.DeviceId.Length} bytes cannot be spilled; at most {byte.MaxValue}.", nameof(record));
        }

        int bodyLength = FixedBodyLength + record.DeviceId.Length + record.Payload.Length;
        Span<byte> body = destination.Slice(FrameLength, bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(body, record.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body[4..], record.ReceivedUnixNanos);
        body[12] = (byte)record.DeviceId.Length;
        record.DeviceId.CopyTo(body[FixedBodyLength..]);
        record.Payload.CopyTo(body[(FixedBodyLength + record.DeviceId.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32C.Compute(body));
        return FrameLength + bodyLength;
    }

    /// <summary>
    /// Reads the record at the start of <paramref name="source"/>. On <see cref="SpillReadStatus.Record"/>,
    /// <paramref name="record"/> points into <paramref name="source"/> and <paramref name="length"/> is the framed length.
    /// </summary>
    public static SpillReadStatus TryRead(ReadOnlySpan<byte> source, out Admitted record, out int length)
    {
        record = default;
        length = 0;
        if (source.Length < FrameLength)
        {
            return SpillReadStatus.Incomplete;
        }

        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (bodyLength < FixedBodyLength || bodyLength > MaxBodyLength)
        {
            return SpillReadStatus.Corrupt;
        }

        if (source.Length < FrameLength + (int)bodyLength)
        {
            return SpillReadStatus.Incomplete;
        }

        ReadOnlySpan<byte> body = source.Slice(FrameLength, (int)bodyLength);
        if (Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(source[4..]))
        {
            return SpillReadStatus.Corrupt;
        }

        int idLength = body[12];
        if (FixedBodyLength + idLength > body.Length)
        {
            return SpillReadStatus.Corrupt;
        }

        record = new Admitted(
            body.Slice(FixedBodyLength, idLength),
            BinaryPrimitives.ReadUInt32LittleEndian(body),
            body[(FixedBodyLength + idLength)..],
            BinaryPrimitives.ReadInt64LittleEndian(body[4..]));
        length = FrameLength + (int)bodyLength;
        return SpillReadStatus.Record;
    }
}
