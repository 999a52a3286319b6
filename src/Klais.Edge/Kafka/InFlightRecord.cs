using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Kafka;

namespace Klais.Edge.Kafka;

/// <summary>
/// The producer's own copy of one record handed to librdkafka and not yet acknowledged. Its delivery report
/// finds it again (the record's opaque is the slot's <see cref="Index"/> in the producer's table), so a record that
/// librdkafka gives back (purged, timed out) can still be spilled instead of lost. Slots are reused: none is
/// allocated in steady state.
/// </summary>
/// <remarks>
/// The copy is also what librdkafka sends (<see cref="NativeProducer.ProduceUncopied"/>): the slot's bytes are on the
/// pinned heap, laid out as device id, then the record's value (the producer's value prefix, then the payload), and
/// they are not written again until the slot is reused, which is after the record's delivery report.
/// </remarks>
internal sealed unsafe class InFlightRecord
{
    /// <summary>Ticket of a record that came straight from the Dam rather than from the spill.</summary>
    public const long Direct = -1;

    private byte[] _bytes = GC.AllocateUninitializedArray<byte>(128, pinned: true);
    private int _idLength;
    private int _prefixLength;
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
            ReadOnlySpan<byte> bytes = _bytes;
            return new Admitted(bytes[.._idLength], Sequence, bytes.Slice(_idLength + _prefixLength, _payloadLength), ReceivedUnixNanos);
        }
    }

    /// <summary>Bytes of device id and payload.</summary>
    public int Length => _idLength + _payloadLength;

    /// <summary>The record's Kafka key: its device id.</summary>
    internal ReadOnlySpan<byte> Key => _bytes.AsSpan(0, _idLength);

    /// <summary>The record's Kafka value, where it stays until the slot is reused: the prefix, then the payload.</summary>
    internal byte* Value => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bytes)) + _idLength;

    internal int ValueLength => _prefixLength + _payloadLength;

    /// <summary>Copies <paramref name="record"/> in, its value prefixed as <paramref name="producer"/> sends it.</summary>
    internal void Fill(in Admitted record, long ticket, long order, NativeProducer? producer = null)
    {
        Order = order;
        int prefix = producer?.ValuePrefixLength ?? 0;
        int length = record.DeviceId.Length + prefix + record.Payload.Length;
        if (length > _bytes.Length)
        {
            // Grows to the largest record it has carried, then stays; the old array goes with its record's report.
            _bytes = GC.AllocateUninitializedArray<byte>((length + 127) & ~127, pinned: true);
        }

        Span<byte> bytes = _bytes;
        record.DeviceId.CopyTo(bytes);
        producer?.WriteValuePrefix(bytes[record.DeviceId.Length..], record.Sequence, record.ReceivedUnixNanos);
        record.Payload.CopyTo(bytes[(record.DeviceId.Length + prefix)..]);
        _idLength = record.DeviceId.Length;
        _prefixLength = prefix;
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
