using System.Runtime.InteropServices;

namespace Klais.Kafka;

internal static partial class Interop
{
    /// <summary>
    /// librdkafka's mock cluster (rdkafka_mock.h). Every wrapper turns a non-zero rd_kafka_resp_err_t into
    /// an <see cref="InvalidOperationException"/> naming the call, its arguments and librdkafka's error text.
    /// </summary>
    internal static partial class Librdkafka
    {
        /// <summary>Starts <paramref name="brokers"/> mock brokers on loopback ports, hosted by <paramref name="rk"/>.</summary>
        internal static SafeMockClusterHandle MockClusterNew(SafeKafkaHandle rk, int brokers)
        {
            SafeMockClusterHandle cluster = rd_kafka_mock_cluster_new(rk, brokers);
            if (cluster.IsInvalid)
            {
                cluster.Dispose();
                throw new InvalidOperationException($"rd_kafka_mock_cluster_new({brokers} brokers) failed (see librdkafka's log on stderr).");
            }

            cluster.Hold(rk);
            return cluster;
        }

        internal static string MockClusterBootstraps(SafeMockClusterHandle cluster) =>
            Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("rd_kafka_mock_cluster_bootstraps returned NULL.");

        internal static void MockTopicCreate(SafeMockClusterHandle cluster, string topic, int partitions, int replicationFactor) =>
            Check(rd_kafka_mock_topic_create(cluster, topic, partitions, replicationFactor), $"rd_kafka_mock_topic_create({topic}, {partitions}, {replicationFactor})");

        internal static void MockTopicSetError(SafeMockClusterHandle cluster, string topic, int err) =>
            rd_kafka_mock_topic_set_error(cluster, topic, err);

        internal static void MockPartitionSetLeader(SafeMockClusterHandle cluster, string topic, int partition, int brokerId) =>
            Check(rd_kafka_mock_partition_set_leader(cluster, topic, partition, brokerId), $"rd_kafka_mock_partition_set_leader({topic}, {partition}, {brokerId})");

        internal static void MockBrokerSetDown(SafeMockClusterHandle cluster, int brokerId) =>
            Check(rd_kafka_mock_broker_set_down(cluster, brokerId), $"rd_kafka_mock_broker_set_down({brokerId})");

        internal static void MockBrokerSetUp(SafeMockClusterHandle cluster, int brokerId) =>
            Check(rd_kafka_mock_broker_set_up(cluster, brokerId), $"rd_kafka_mock_broker_set_up({brokerId})");

        internal static void MockBrokerSetRtt(SafeMockClusterHandle cluster, int brokerId, int rttMs) =>
            Check(rd_kafka_mock_broker_set_rtt(cluster, brokerId, rttMs), $"rd_kafka_mock_broker_set_rtt({brokerId}, {rttMs} ms)");

        internal static void MockPushRequestErrors(SafeMockClusterHandle cluster, short apiKey, ReadOnlySpan<int> errors) =>
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, (nuint)errors.Length, errors);

        internal static void MockClearRequestErrors(SafeMockClusterHandle cluster, short apiKey) =>
            rd_kafka_mock_clear_request_errors(cluster, apiKey);

        internal static void MockCoordinatorSet(SafeMockClusterHandle cluster, string keyType, string key, int brokerId) =>
            Check(rd_kafka_mock_coordinator_set(cluster, keyType, key, brokerId), $"rd_kafka_mock_coordinator_set({keyType}, {key}, {brokerId})");

        internal static void MockSetApiVersion(SafeMockClusterHandle cluster, short apiKey, short minVersion, short maxVersion) =>
            Check(rd_kafka_mock_set_apiversion(cluster, apiKey, minVersion, maxVersion), $"rd_kafka_mock_set_apiversion({apiKey}, {minVersion}, {maxVersion})");

        private static void Check(int err, string operation)
        {
            if (err != 0)
            {
                throw new InvalidOperationException($"{operation} failed: {ErrorText(err)} (rd_kafka_resp_err_t {err}).");
            }
        }

        [LibraryImport(Libraries.Rdkafka)]
        private static partial SafeMockClusterHandle rd_kafka_mock_cluster_new(SafeKafkaHandle rk, int brokerCount);

        [LibraryImport(Libraries.Rdkafka)]
        internal static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial IntPtr rd_kafka_mock_cluster_bootstraps(SafeMockClusterHandle cluster);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int rd_kafka_mock_topic_create(SafeMockClusterHandle cluster, string topic, int partitions, int replicationFactor);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        private static partial void rd_kafka_mock_topic_set_error(SafeMockClusterHandle cluster, string topic, int err);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int rd_kafka_mock_partition_set_leader(SafeMockClusterHandle cluster, string topic, int partition, int brokerId);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial int rd_kafka_mock_broker_set_down(SafeMockClusterHandle cluster, int brokerId);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial int rd_kafka_mock_broker_set_up(SafeMockClusterHandle cluster, int brokerId);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial int rd_kafka_mock_broker_set_rtt(SafeMockClusterHandle cluster, int brokerId, int rttMs);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial void rd_kafka_mock_push_request_errors_array(SafeMockClusterHandle cluster, short apiKey, nuint count, ReadOnlySpan<int> errors);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial void rd_kafka_mock_clear_request_errors(SafeMockClusterHandle cluster, short apiKey);

        [LibraryImport(Libraries.Rdkafka, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int rd_kafka_mock_coordinator_set(SafeMockClusterHandle cluster, string keyType, string key, int brokerId);

        [LibraryImport(Libraries.Rdkafka)]
        private static partial int rd_kafka_mock_set_apiversion(SafeMockClusterHandle cluster, short apiKey, short minVersion, short maxVersion);
    }
}
