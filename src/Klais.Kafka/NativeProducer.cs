using System.Runtime.InteropServices;

namespace Klais.Kafka;

/// <summary>
/// A producer straight on librdkafka, the candidate for the edge's per-record path (issue: edge speed), measured
/// against Confluent's <c>Produce</c> in <c>bench/Klais.Benchmarks</c> (<c>ProduceBenchmarks</c>) before anything
/// depends on it. A record is one <c>rd_kafka_produceva</c> call (key, value and the three KLAIS headers copied by
/// librdkafka, a 64-bit opaque that comes back with its report); delivery reports are taken in batches from the
/// event API by <see cref="Poll"/>, with no managed object per record. Topic and header names are UTF-8 in native
/// memory made once. <see cref="Produce"/> may be called from any thread; <see cref="Poll"/> from one.
/// </summary>
public sealed unsafe class NativeProducer : IDisposable
{
    private const int MaxReportsPerPoll = 1024;

    private readonly SafeKafkaHandle _rk;
    private readonly IntPtr _queue;
    private readonly byte* _topic;
    private readonly byte* _seqName;
    private readonly byte* _edgeName;
    private readonly byte* _tsName;
    private readonly byte[] _edge;
    private readonly Interop.Librdkafka.Message*[] _reports = new Interop.Librdkafka.Message*[MaxReportsPerPoll];
    private bool _disposed;

    /// <summary>A producer of <paramref name="topic"/> with librdkafka <paramref name="config"/> (bootstrap.servers, acks, …), sending <paramref name="edge"/> as the <c>edge</c> header.</summary>
    public NativeProducer(IReadOnlyDictionary<string, string> config, string topic, string edge)
    {
        _rk = Interop.Librdkafka.NewProducer(config, Interop.Librdkafka.EventDr);
        _queue = Interop.Librdkafka.rd_kafka_queue_get_main(_rk);
        _topic = (byte*)Marshal.StringToCoTaskMemUTF8(topic);
        _seqName = (byte*)Marshal.StringToCoTaskMemUTF8("seq");
        _edgeName = (byte*)Marshal.StringToCoTaskMemUTF8("edge");
        _tsName = (byte*)Marshal.StringToCoTaskMemUTF8("ts");
        _edge = System.Text.Encoding.UTF8.GetBytes(edge);
    }

    /// <summary>
    /// Hands one record to librdkafka: 0, or librdkafka's error code (e.g. -184, queue full: nothing was taken).
    /// <paramref name="opaque"/> comes back with its delivery report.
    /// </summary>
    public int Produce(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint sequence, long receivedUnixNanos, long opaque)
    {
        uint seq = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(sequence);
        long ts = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(receivedUnixNanos);
        fixed (byte* k = key)
        fixed (byte* v = value)
        fixed (byte* e = _edge)
        {
            Interop.Librdkafka.Vu* vus = stackalloc Interop.Librdkafka.Vu[9];
            vus[0] = Interop.Librdkafka.Vu.Of(Interop.Librdkafka.VType.Topic, _topic);
            vus[1] = Interop.Librdkafka.Vu.Memory(Interop.Librdkafka.VType.Key, k, key.Length);
            vus[2] = Interop.Librdkafka.Vu.Memory(Interop.Librdkafka.VType.Value, v, value.Length);
            vus[3] = new Interop.Librdkafka.Vu { Type = Interop.Librdkafka.VType.MsgFlags, I32 = Interop.Librdkafka.MsgFlagCopy };
            vus[4] = new Interop.Librdkafka.Vu { Type = Interop.Librdkafka.VType.Timestamp, I64 = receivedUnixNanos / 1_000_000 };
            vus[5] = Interop.Librdkafka.Vu.Header(_seqName, &seq, sizeof(uint));
            vus[6] = Interop.Librdkafka.Vu.Header(_edgeName, e, _edge.Length);
            vus[7] = Interop.Librdkafka.Vu.Header(_tsName, &ts, sizeof(long));
            vus[8] = new Interop.Librdkafka.Vu { Type = Interop.Librdkafka.VType.Opaque, I64 = opaque };
            IntPtr error = Interop.Librdkafka.rd_kafka_produceva(_rk, vus, 9);
            if (error == IntPtr.Zero)
            {
                return 0;
            }

            int code = Interop.Librdkafka.rd_kafka_error_code(error);
            Interop.Librdkafka.rd_kafka_error_destroy(error);
            return code;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for one event and hands every delivery report in it to
    /// <paramref name="onReport"/> (opaque, error code: 0 = persisted); the number of reports.
    /// </summary>
    public int Poll(int timeoutMs, Action<long, int> onReport)
    {
        IntPtr ev = Interop.Librdkafka.rd_kafka_queue_poll(_queue, timeoutMs);
        if (ev == IntPtr.Zero)
        {
            return 0;
        }

        int handled = 0;
        try
        {
            if (Interop.Librdkafka.rd_kafka_event_type(ev) == Interop.Librdkafka.EventDr)
            {
                fixed (Interop.Librdkafka.Message** reports = _reports)
                {
                    int n = (int)Interop.Librdkafka.rd_kafka_event_message_array(ev, reports, MaxReportsPerPoll);
                    for (int i = 0; i < n; i++)
                    {
                        onReport((long)reports[i]->Private, reports[i]->Err);
                    }

                    handled = n;
                }
            }
        }
        finally
        {
            Interop.Librdkafka.rd_kafka_event_destroy(ev);
        }

        return handled;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Interop.Librdkafka.rd_kafka_queue_destroy(_queue);
        _rk.Dispose();
        Marshal.FreeCoTaskMem((IntPtr)_topic);
        Marshal.FreeCoTaskMem((IntPtr)_seqName);
        Marshal.FreeCoTaskMem((IntPtr)_edgeName);
        Marshal.FreeCoTaskMem((IntPtr)_tsName);
    }
}
