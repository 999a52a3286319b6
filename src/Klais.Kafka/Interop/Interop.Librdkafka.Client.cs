using System.Runtime.InteropServices;
using System.Text;

namespace Klais.Kafka;

internal static partial class Interop
{
    /// <summary>The rd_kafka_t calls the mock cluster and <see cref="NativeProducer"/> need (rdkafka.h); Confluent.Kafka owns everything else.</summary>
    internal static partial class Librdkafka
    {
        private const int RdKafkaProducer = 0; // rd_kafka_type_t RD_KAFKA_PRODUCER
        private const int ConfOk = 0;          // rd_kafka_conf_res_t RD_KAFKA_CONF_OK

        /// <summary>Creates a producer handle (rd_kafka_new) with the given properties; it only hosts a mock cluster.</summary>
        internal static unsafe SafeKafkaHandle NewProducer(IReadOnlyDictionary<string, string> config, int events = 0)
        {
            global::Klais.Kafka.Librdkafka.EnsureLoaded();
            IntPtr conf = rd_kafka_conf_new();
            if (events != 0)
            {
                rd_kafka_conf_set_events(conf, events);
            }

            byte* errstr = stackalloc byte[512];
            foreach ((string name, string value) in config)
            {
                if (rd_kafka_conf_set(conf, name, value, errstr, 512) != ConfOk)
                {
                    rd_kafka_conf_destroy(conf);
                    throw new InvalidOperationException($"rd_kafka_conf_set({name}={value}) failed: {Text(errstr)}");
                }
            }

            SafeKafkaHandle rk = rd_kafka_new(RdKafkaProducer, conf, errstr, 512);
            if (rk.IsInvalid)
            {
                // rd_kafka_new takes ownership of conf only on success.
                rd_kafka_conf_destroy(conf);
                throw new InvalidOperationException($"rd_kafka_new failed: {Text(errstr)}");
            }

            return rk;
        }

        /// <summary>librdkafka's name and description of an error code, e.g. "Broker: Not leader for partition".</summary>
        internal static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";

        private static unsafe string Text(byte* errstr) => Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(errstr));

        [LibraryImport(Libraries.Rdkafka)]
        private static partial IntPtr rd_kafka_conf_new();

        [LibraryImport(Libraries.Rdkafka)]
        private static partial void rd_kafka_conf_destroy(IntPtr conf);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

        [LibraryImport(Libraries.Rdkafka)]
        private static unsafe partial SafeKafkaHandle rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_destroy(IntPtr rk);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial IntPtr rd_kafka_err2str(int err);
    }
}
