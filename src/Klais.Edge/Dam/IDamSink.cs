namespace Klais.Edge.Dam;

/// <summary>
/// A record the Dam let through. The spans point into the receive buffer (pass path) or the Dam's
/// overflow ring (drain path) and are valid only during <see cref="IDamSink.TryDeliver"/>.
/// </summary>
internal readonly ref struct Admitted
{
    public Admitted(ReadOnlySpan<byte> deviceId, uint sequence, ReadOnlySpan<byte> payload, long receivedUnixNanos)
    {
        DeviceId = deviceId;
        Sequence = sequence;
        Payload = payload;
        ReceivedUnixNanos = receivedUnixNanos;
    }

    /// <summary>Device id text, NUL padding removed: the Kafka key.</summary>
    public ReadOnlySpan<byte> DeviceId { get; }

    public uint Sequence { get; }

    /// <summary>JSON payload: the Kafka value.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>Receive time, nanoseconds since the Unix epoch: the receive-timestamp header.</summary>
    public long ReceivedUnixNanos { get; }
}

/// <summary>Where the Dam sends what it lets through: the Kafka producer in production.</summary>
internal interface IDamSink
{
    /// <summary>
    /// Takes the record (copying what it needs) and returns true, or returns false without side effects
    /// when it cannot take more now (librdkafka's queue is full): the Dam then holds the record back.
    /// Must not throw for back-pressure.
    /// </summary>
    bool TryDeliver(in Admitted record);
}
