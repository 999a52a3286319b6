using System.Buffers.Binary;
using System.Text;

namespace Klais.Kafka;

/// <summary>How an edge writes the three KLAIS fields of a telemetry record (docs/kafka.md, "Record formats").</summary>
public enum RecordFormat
{
    /// <summary>Value = the device's payload; headers <c>seq</c> (u32 BE), <c>edge</c> (UTF-8), <c>ts</c> (i64 BE Unix ns).</summary>
    Headers,

    /// <summary>No headers; value = a <see cref="TelemetryEnvelope"/> followed by the device's payload.</summary>
    Envelope,
}

/// <summary>The fields a <see cref="TelemetryEnvelope"/> carries, and the payload after it.</summary>
/// <param name="Sequence">The device's sequence number from its datagram.</param>
/// <param name="ReceivedUnixNanos">When the edge received the datagram, Unix time in nanoseconds.</param>
/// <param name="Edge">The edge's node id.</param>
/// <param name="Payload">The device's payload, as it arrived.</param>
public readonly ref struct TelemetryEnvelopeFields(uint sequence, long receivedUnixNanos, ReadOnlySpan<byte> edge, ReadOnlySpan<byte> payload)
{
    public uint Sequence { get; } = sequence;

    public long ReceivedUnixNanos { get; } = receivedUnixNanos;

    public ReadOnlySpan<byte> Edge { get; } = edge;

    public ReadOnlySpan<byte> Payload { get; } = payload;

    public string EdgeText => Encoding.UTF8.GetString(Edge);
}

/// <summary>
/// The <see cref="RecordFormat.Envelope"/> layout: the record's value starts with
/// <code>
/// offset 0   u8    version, 1 (never '{', '[' or any byte a JSON text starts with)
/// offset 1   u32   seq, big-endian
/// offset 5   i64   ts, Unix nanoseconds, big-endian
/// offset 13  u8    n, length of the edge id
/// offset 14  n     edge id, UTF-8
/// offset 14+n      the device's payload, unchanged
/// </code>
/// The same fields as the <c>seq</c>, <c>ts</c> and <c>edge</c> headers, in a fixed binary prefix instead of three
/// headers: librdkafka then allocates once per record instead of six, and the brokers store no header bytes.
/// </summary>
public static class TelemetryEnvelope
{
    /// <summary>The layout's version, the first byte of every envelope.</summary>
    public const byte Version = 1;

    /// <summary>Bytes before the edge id.</summary>
    public const int FixedBytes = 14;

    /// <summary>Longest edge id in UTF-8 bytes (its length is one byte).</summary>
    public const int MaxEdgeBytes = 255;

    /// <summary>Bytes of an envelope for an edge id of <paramref name="edgeBytes"/> UTF-8 bytes.</summary>
    public static int PrefixLength(int edgeBytes) => FixedBytes + edgeBytes;

    /// <summary>
    /// Writes the prefix (without payload) into <paramref name="destination"/>, which must hold
    /// <see cref="PrefixLength"/> bytes; returns the bytes written.
    /// </summary>
    public static int WritePrefix(Span<byte> destination, uint sequence, long receivedUnixNanos, ReadOnlySpan<byte> edge)
    {
        if (edge.Length > MaxEdgeBytes)
        {
            throw new ArgumentException($"An edge id is at most {MaxEdgeBytes} UTF-8 bytes; this one has {edge.Length}.", nameof(edge));
        }

        destination[0] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(destination[5..], receivedUnixNanos);
        destination[13] = (byte)edge.Length;
        edge.CopyTo(destination[FixedBytes..]);
        return FixedBytes + edge.Length;
    }

    /// <summary>
    /// Reads an envelope from a record's <paramref name="value"/>: false when the value is too short for its prefix or
    /// does not start with <see cref="Version"/> (for example a record written in the <see cref="RecordFormat.Headers"/> format).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out TelemetryEnvelopeFields fields)
    {
        fields = default;
        if (value.Length < FixedBytes || value[0] != Version || value.Length < FixedBytes + value[13])
        {
            return false;
        }

        int edgeLength = value[13];
        fields = new TelemetryEnvelopeFields(
            BinaryPrimitives.ReadUInt32BigEndian(value[1..]),
            BinaryPrimitives.ReadInt64BigEndian(value[5..]),
            value.Slice(FixedBytes, edgeLength),
            value[(FixedBytes + edgeLength)..]);
        return true;
    }
}
