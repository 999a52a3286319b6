using System.Runtime.InteropServices;

namespace Klais.Kafka;

internal static partial class Interop
{
    internal static partial class Librdkafka
    {
        internal const int PurgeQueue = 0x1;     // RD_KAFKA_PURGE_F_QUEUE
        internal const int PurgeInFlight = 0x2;  // RD_KAFKA_PURGE_F_INFLIGHT

        /// <summary>rd_kafka_purge(rk, flags): fails the producer's queued (and in-flight) messages with ERR__PURGE_QUEUE / ERR__PURGE_INFLIGHT.</summary>
        internal static int Purge(SafeHandle producer, int flags)
        {
            bool added = false;
            producer.DangerousAddRef(ref added);
            try
            {
                return rd_kafka_purge(producer.DangerousGetHandle(), flags);
            }
            finally
            {
                if (added)
                {
                    producer.DangerousRelease();
                }
            }
        }

        [LibraryImport(Libraries.Rdkafka)]
        private static partial int rd_kafka_purge(IntPtr rk, int flags);
    }
}
