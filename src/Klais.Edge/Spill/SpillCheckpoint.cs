using System.Buffers.Binary;

namespace Klais.Edge.Spill;

/// <summary>
/// What of the spill Kafka has acknowledged, kept in the file <c>checkpoint</c> beside the segments: every record
/// before <see cref="Prefix"/> is done, and so is every record starting at one of <see cref="Done"/> (acknowledged
/// out of order, beyond the prefix). Written to a temporary file, fsynced, then renamed over the old one, so a
/// crash leaves either the old or the new checkpoint, never a mix.
/// <code>KLCKPT01 | i64 prefix segment | i64 prefix offset | i32 n | n × (i64 segment, i64 offset) | u32 CRC-32C of all before</code>
/// </summary>
internal sealed record SpillCheckpoint(SpillPosition Prefix, IReadOnlyList<SpillPosition> Done)
{
    public const string FileName = "checkpoint";

    private static ReadOnlySpan<byte> Magic => "KLCKPT01"u8;

    /// <summary>The checkpoint in <paramref name="directory"/>; null when there is none or it is damaged (<paramref name="problem"/> says which).</summary>
    public static SpillCheckpoint? Load(string directory, out string? problem)
    {
        problem = null;
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        const int fixedLength = 8 + 16 + 4 + 4;
        if (bytes.Length < fixedLength || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
        {
            problem = $"{path} is not a spill checkpoint ({bytes.Length} bytes)";
            return null;
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24));
        if (count < 0 || bytes.Length != fixedLength + (count * 16L))
        {
            problem = $"{path} has a bad length ({bytes.Length} bytes for {count} entries)";
            return null;
        }

        if (Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
        {
            problem = $"{path} fails its checksum";
            return null;
        }

        var done = new SpillPosition[count];
        for (int i = 0; i < count; i++)
        {
            done[i] = Read(bytes.AsSpan(28 + (i * 16)));
        }

        return new SpillCheckpoint(Read(bytes.AsSpan(8)), done);
    }

    /// <summary>Writes the checkpoint durably (temporary file, fsync, rename).</summary>
    public void Save(string directory)
    {
        byte[] bytes = new byte[8 + 16 + 4 + (Done.Count * 16) + 4];
        Magic.CopyTo(bytes);
        Write(bytes.AsSpan(8), Prefix);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), Done.Count);
        for (int i = 0; i < Done.Count; i++)
        {
            Write(bytes.AsSpan(28 + (i * 16)), Done[i]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)));
        string temporary = Path.Combine(directory, FileName + ".tmp");
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(directory, FileName), overwrite: true);
    }

    private static SpillPosition Read(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadInt64LittleEndian(bytes), BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]));

    private static void Write(Span<byte> bytes, SpillPosition position)
    {
        BinaryPrimitives.WriteInt64LittleEndian(bytes, position.Segment);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], position.Offset);
    }
}
