using Confluent.Kafka;
using Klais.Edge.Dam;

namespace Klais.Edge.Kafka;

/// <summary>
/// The producer's own copy of one record handed to librdkafka and not yet acknowledged. Its delivery report
/// finds it again (the record's opaque is the slot's <see cref="Index"/> in the producer's table), so a record that
/// librdkafka gives back (purged, timed out) can still be spilled instead of lost. Slots are reused: none is
/// allocated in steady state.
/// </summary>
internal sealed class InFlightRecord
{
    /// <summary>Ticket of a record that came straight from the Dam rather than from the spill.</summary>
    public const long Direct = -1;

    private byte[] _bytes = new byte[128];
    private int _idLength;
    private int _payloadLength;

    internal InFlightRecord(int index) => Index = index;

    /// <summary>The slot's place in the producer's table: the opaque its record is produced with.</summary>
    public int Index { get; }

    /// <summary><see cref="Direct"/>, or the replayer's ticket of a record read from the spill.</summary>
    public long Ticket { get; private set; }

    public uint Sequence { get; private set; }

    /// <summary>Produce order across all threads: records given back are spilled in this order, whatever order librdkafka reports them in.</summary>
    public long Order { get; private set; }

    public long ReceivedUnixNanos { get; private set; }

    /// <summary>The record as it was produced; valid while the slot is not reused (during the delivery callback).</summary>
    public Admitted Record
    {
        get
        {
            ReadOnlySpan<byte> bytes = _bytes.AsSpan(0, _idLength + _payloadLength);
            return new Admitted(bytes[.._idLength], Sequence, bytes[_idLength..], ReceivedUnixNanos);
        }
    }

    /// <summary>Bytes of device id and payload.</summary>
    public int Length => _idLength + _payloadLength;

    internal void Fill(in Admitted record, long ticket, long order)
    {
        Order = order;
        int length = record.DeviceId.Length + record.Payload.Length;
        if (length > _bytes.Length)
        {
            _bytes = new byte[(length + 127) & ~127];   // grows to the largest record it has carried, then stays
        }

        record.DeviceId.CopyTo(_bytes);
        record.Payload.CopyTo(_bytes.AsSpan(record.DeviceId.Length));
        _idLength = record.DeviceId.Length;
        _payloadLength = record.Payload.Length;
        Sequence = record.Sequence;
        ReceivedUnixNanos = record.ReceivedUnixNanos;
        Ticket = ticket;
    }
}

/// <summary>
/// Told what became of each record the producer took; called on the producer's event thread, in report order, and for
/// records the producer was still holding (linger advice) on the thread calling <see cref="TelemetryProducer.Purge"/>.
/// </summary>
internal interface IDeliveryObserver
{
    void OnDelivered(InFlightRecord record);

    /// <summary>
    /// librdkafka gave the record back undelivered for a reason that may pass (purged, timed out, broker trouble):
    /// the observer takes it over (spills it, or rewinds its replay). Copy what is needed before returning.
    /// <paramref name="status"/> says whether the broker may have written it anyway.
    /// </summary>
    void OnReturned(InFlightRecord record, ErrorCode code, PersistenceStatus status);

    /// <summary>A client-level error from librdkafka's error callback (e.g. all brokers down).</summary>
    void OnClientError(Error error);
}
