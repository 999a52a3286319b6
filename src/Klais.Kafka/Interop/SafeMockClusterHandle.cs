using System.Runtime.InteropServices;

namespace Klais.Kafka;

/// <summary>
/// Owns an rd_kafka_mock_cluster_t. The cluster must be destroyed before the rd_kafka_t hosting it, so
/// this handle keeps a reference on that <see cref="SafeKafkaHandle"/> and releases it after
/// rd_kafka_mock_cluster_destroy.
/// </summary>
internal sealed class SafeMockClusterHandle : SafeHandle
{
    private SafeKafkaHandle? _host;

    public SafeMockClusterHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    internal void Hold(SafeKafkaHandle host)
    {
        bool added = false;
        host.DangerousAddRef(ref added);
        _host = host;
    }

    protected override bool ReleaseHandle()
    {
        Interop.Librdkafka.rd_kafka_mock_cluster_destroy(handle);
        _host?.DangerousRelease();
        return true;
    }
}
