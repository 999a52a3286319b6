using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>
/// librdkafka's <c>rd_kafka_purge</c> for a Confluent.Kafka producer. Confluent.Kafka 1.9.3 does not expose purge
/// (2.x does, but 2.x needs a newer librdkafka than Debian's 2.0.2), so this reaches the producer's native handle
/// (<c>Handle.LibrdkafkaHandle</c>, internal in 1.9.3, found once by reflection) and calls librdkafka directly.
/// Purged messages come back through their delivery handlers with <see cref="ErrorCode.Local_PurgeQueue"/> (never
/// sent) or <see cref="ErrorCode.Local_PurgeInflight"/> (sent, no answer: the broker may still write them).
/// </summary>
public static class ProducerPurge
{
    private static readonly PropertyInfo? NativeHandle =
        typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    /// <summary>True when this Confluent.Kafka build lets us reach the native handle (checked by a test).</summary>
    public static bool IsSupported => NativeHandle is not null;

    /// <summary>
    /// Fails every message <paramref name="producer"/> still holds: queued ones, and with <paramref name="inFlight"/>
    /// also those sent and not yet answered. Blocks until librdkafka has moved them to the delivery-report queue; the
    /// reports themselves arrive on Confluent's poll thread afterwards.
    /// </summary>
    public static void Purge(IClient producer, bool inFlight)
    {
        ArgumentNullException.ThrowIfNull(producer);
        if (NativeHandle?.GetValue(producer.Handle) is not SafeHandle native)
        {
            throw new NotSupportedException("This Confluent.Kafka build hides the librdkafka handle; rd_kafka_purge cannot be called.");
        }

        int error = Interop.Librdkafka.Purge(native, Interop.Librdkafka.PurgeQueue | (inFlight ? Interop.Librdkafka.PurgeInFlight : 0));
        if (error != 0)
        {
            throw new KafkaException((ErrorCode)error);
        }
    }
}
