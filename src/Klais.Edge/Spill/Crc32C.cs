using System.Buffers.Binary;
using System.Numerics;

namespace Klais.Edge.Spill;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of every spill record. System.IO.Hashing does not restore from our feed;
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> is in the base library and uses the CPU's CRC32 instruction
/// (SSE4.2, ARMv8) with a table fallback, 8 bytes per step.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = uint.MaxValue;
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
