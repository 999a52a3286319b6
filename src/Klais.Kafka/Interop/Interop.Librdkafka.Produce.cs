using System.Runtime.InteropServices;

namespace Klais.Kafka;

internal static partial class Interop
{
    /// <summary>
    /// librdkafka's array form of produce and its event API (rdkafka.h): one <c>rd_kafka_produceva</c> per record,
    /// delivery reports taken in batches from the main queue (<c>rd_kafka_queue_poll</c> +
    /// <c>rd_kafka_event_message_array</c>) instead of one callback per record.
    /// </summary>
    internal static partial class Librdkafka
    {
        internal const int EventDr = 0x1;         // RD_KAFKA_EVENT_DR
        internal const int EventLog = 0x4;        // RD_KAFKA_EVENT_LOG
        internal const int EventError = 0x8;      // RD_KAFKA_EVENT_ERROR
        internal const int EventStats = 0x40;     // RD_KAFKA_EVENT_STATS
        internal const int MsgFlagCopy = 0x2;     // RD_KAFKA_MSG_F_COPY

        /// <summary>rd_kafka_vtype_t.</summary>
        internal enum VType
        {
            End = 0,
            Topic = 1,
            Rkt = 2,
            Partition = 3,
            Value = 4,
            Key = 5,
            Opaque = 6,
            MsgFlags = 7,
            Timestamp = 8,
            Header = 9,
            Headers = 10,
        }

        /// <summary>
        /// rd_kafka_vu_t: the type, then a union padded to 64 bytes (72 in all on 64-bit). Only the members used here
        /// are mapped: a pointer or integer at 8, a (pointer, size) pair, a header's (name, value, size).
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 72)]
        internal unsafe struct Vu
        {
            [FieldOffset(0)] public VType Type;
            [FieldOffset(8)] public void* Ptr;
            [FieldOffset(8)] public long I64;
            [FieldOffset(8)] public int I32;
            [FieldOffset(16)] public nuint Size;
            [FieldOffset(16)] public void* HeaderValue;
            [FieldOffset(24)] public nint HeaderSize;

            // Setters, not constructors: a 72-byte struct built and then assigned is zeroed and copied (a Memmove
            // call per entry, 4 % of a receive thread in the profile), while these write the entry where it lies.
            // librdkafka reads only the members of each entry's type, so the rest may stay uninitialised.
            public void Set(VType type, void* ptr)
            {
                Type = type;
                Ptr = ptr;
            }

            public void Set(VType type, int value)
            {
                Type = type;
                I32 = value;
            }

            public void Set(VType type, long value)
            {
                Type = type;
                I64 = value;
            }

            public void SetMemory(VType type, void* ptr, int size)
            {
                Type = type;
                Ptr = ptr;
                Size = (nuint)size;
            }

            public void SetHeader(byte* name, void* value, int size)
            {
                Type = VType.Header;
                Ptr = name;
                HeaderValue = value;
                HeaderSize = size;
            }
        }

        /// <summary>rd_kafka_message_t's fields a delivery report needs: <c>err</c> at 0, <c>_private</c> (the opaque) at 64.</summary>
        [StructLayout(LayoutKind.Explicit)]
        internal unsafe struct Message
        {
            [FieldOffset(0)] public int Err;
            [FieldOffset(64)] public void* Private;
        }

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_conf_set_events(IntPtr conf, int events);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial IntPtr rd_kafka_produceva(IntPtr rk, Vu* vus, nuint count);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_error_code(IntPtr error);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_error_destroy(IntPtr error);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial IntPtr rd_kafka_queue_get_main(SafeKafkaHandle rk);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_queue_destroy(IntPtr queue);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial IntPtr rd_kafka_queue_poll(IntPtr queue, int timeoutMs);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_event_type(IntPtr ev);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial nuint rd_kafka_event_message_array(IntPtr ev, Message** messages, nuint size);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_event_destroy(IntPtr ev);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_flush(SafeKafkaHandle rk, int timeoutMs);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_outq_len(SafeKafkaHandle rk);

        /// <summary>rd_kafka_msg_status_t: 0 not persisted, 1 possibly persisted, 2 persisted.</summary>
        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial int rd_kafka_message_status(Message* message);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_event_error(IntPtr ev);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial IntPtr rd_kafka_event_error_string(IntPtr ev);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_event_error_is_fatal(IntPtr ev);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial int rd_kafka_event_log(IntPtr ev, byte** facility, byte** text, int* level);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial IntPtr rd_kafka_event_stats(IntPtr ev);

        /// <summary>Forwards librdkafka's logs to <paramref name="queue"/> (IntPtr.Zero: the main queue); needs <c>log.queue=true</c>.</summary>
        [LibraryImport(Libraries.Rdkafka)]
        internal static partial int rd_kafka_set_log_queue(SafeKafkaHandle rk, IntPtr queue);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial int rd_kafka_fatal_error(SafeKafkaHandle rk, byte* errstr, nuint size);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr rd_kafka_topic_new(SafeKafkaHandle rk, string topic, IntPtr conf);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_topic_destroy(IntPtr rkt);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial int rd_kafka_metadata(SafeKafkaHandle rk, int allTopics, IntPtr onlyTopic, MetadataList** metadata, int timeoutMs);

        [LibraryImport(Libraries.Rdkafka)]
        internal static unsafe partial void rd_kafka_metadata_destroy(MetadataList* metadata);

        /// <summary>struct rd_kafka_metadata: the topics part (brokers are not read).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MetadataList
        {
            public int BrokerCount;
            public void* Brokers;
            public int TopicCount;
            public MetadataTopic* Topics;
        }

        /// <summary>struct rd_kafka_metadata_topic.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MetadataTopic
        {
            public byte* Name;
            public int PartitionCount;
            public MetadataPartition* Partitions;
            public int Err;
        }

        /// <summary>struct rd_kafka_metadata_partition.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MetadataPartition
        {
            public int Id;
            public int Err;
            public int Leader;
            public int ReplicaCount;
            public int* Replicas;
            public int IsrCount;
            public int* Isrs;
        }
    }
}
