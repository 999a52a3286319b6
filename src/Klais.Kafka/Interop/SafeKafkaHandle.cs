using System.Runtime.InteropServices;

namespace Klais.Kafka;

/// <summary>Owns an rd_kafka_t; <see cref="ReleaseHandle"/> calls rd_kafka_destroy.</summary>
internal sealed class SafeKafkaHandle : SafeHandle
{
    public SafeKafkaHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Interop.Librdkafka.rd_kafka_destroy(handle);
        return true;
    }
}
