using System.Runtime.InteropServices;

namespace Klais.Kafka;

/// <summary>
/// Owns an rd_kafka_t; <see cref="ReleaseHandle"/> calls rd_kafka_destroy, once no call holds a reference. Handles made
/// from the client (its main queue, a topic) can be given to it with <see cref="Own"/>: they are destroyed just before
/// the client, so that a call still using them when another thread disposes keeps all three alive until it returns.
/// </summary>
internal sealed class SafeKafkaHandle : SafeHandle
{
    private IntPtr _queue;
    private IntPtr _topic;

    public SafeKafkaHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Makes <paramref name="queue"/> and <paramref name="topic"/> (either may be zero) part of this client's lifetime.</summary>
    internal void Own(IntPtr queue, IntPtr topic)
    {
        _queue = queue;
        _topic = topic;
    }

    protected override bool ReleaseHandle()
    {
        if (_topic != IntPtr.Zero)
        {
            Interop.Librdkafka.rd_kafka_topic_destroy(_topic);
        }

        if (_queue != IntPtr.Zero)
        {
            Interop.Librdkafka.rd_kafka_queue_destroy(_queue);
        }

        Interop.Librdkafka.rd_kafka_destroy(handle);
        handle = IntPtr.Zero;   // a freed client reads as invalid
        return true;
    }
}
