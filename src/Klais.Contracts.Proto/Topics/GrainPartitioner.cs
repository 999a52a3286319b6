using System.Buffers.Binary;
using System.Text;

namespace Klais.Contracts.Proto;

/// <summary>
/// Which partition of klais.reports a grain key belongs to: Kafka's default
/// partitioner (Java's murmur2, librdkafka's <c>murmur2</c>), <c>(murmur2(utf8 key) &amp; 0x7fffffff) % partitions</c>.
/// Producers here write to the computed partition explicitly, so every process agrees whatever its client's
/// partitioner setting; a Java producer with default settings lands on the same partition.
/// </summary>
public static class GrainPartitioner
{
    public static int Partition(string key, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        int length = Encoding.UTF8.GetByteCount(key);
        Span<byte> bytes = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(key, bytes);
        return (int)((Murmur2(bytes) & 0x7fffffff) % (uint)partitions);
    }

    public static int Partition(GrainKey key, int partitions) => Partition(key.ToString(), partitions);

    /// <summary>Kafka's murmur2 (seed 0x9747b28c), as Java's <c>Utils.murmur2</c> computes it.</summary>
    public static uint Murmur2(ReadOnlySpan<byte> data)
    {
        const uint M = 0x5bd1e995;
        const int R = 24;
        uint h = 0x9747b28c ^ (uint)data.Length;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            k *= M;
            k ^= k >> R;
            k *= M;
            h *= M;
            h ^= k;
        }

        int rest = data.Length - i;
        if (rest == 3)
        {
            h ^= (uint)data[i + 2] << 16;
        }

        if (rest >= 2)
        {
            h ^= (uint)data[i + 1] << 8;
        }

        if (rest >= 1)
        {
            h ^= data[i];
            h *= M;
        }

        h ^= h >> 13;
        h *= M;
        h ^= h >> 15;
        return h;
    }
}
