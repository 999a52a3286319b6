namespace Klais.Contracts.Wire;

/// <summary>
/// The 64-bit key a device is known by in the kernel and in user space: FNV-1a over the 16 raw
/// device_id bytes of the datagram, NUL padding included. The BPF program computes the same value;
/// <c>tests/vectors/device_key.txt</c> holds the golden vectors both sides are tested against.
/// </summary>
/// <remarks>64 bits, not 32: among 1M devices a 32-bit hash collides about 116 times.</remarks>
public static class DeviceKey
{
    public const ulong OffsetBasis = 0xcbf29ce484222325UL;
    public const ulong Prime = 0x100000001b3UL;

    /// <summary>Hashes exactly <see cref="Datagram.DeviceIdLength"/> bytes.</summary>
    public static ulong Compute(ReadOnlySpan<byte> rawDeviceId)
    {
        if (rawDeviceId.Length != Datagram.DeviceIdLength)
        {
            throw new ArgumentException(
                $"A device id field is {Datagram.DeviceIdLength} bytes; got {rawDeviceId.Length}.", nameof(rawDeviceId));
        }

        ulong hash = OffsetBasis;
        foreach (byte b in rawDeviceId)
        {
            hash ^= b;
            hash *= Prime;
        }

        return hash;
    }
}
