using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Klais.Kafka;

/// <summary>What librdkafka said of one record: its opaque, the error code (0: persisted) and the persistence status.</summary>
/// <param name="Opaque">The 64-bit opaque the record was produced with.</param>
/// <param name="Error">librdkafka's <c>rd_kafka_resp_err_t</c>; 0 when the broker acknowledged the record.</param>
/// <param name="Status"><c>rd_kafka_msg_status_t</c>: 0 not persisted, 1 possibly persisted, 2 persisted.</param>
public readonly record struct NativeDeliveryReport(long Opaque, int Error, int Status);

/// <summary>Receives what a <see cref="NativeProducer"/>'s event queue holds; called on the thread that polls.</summary>
public interface INativeProducerEvents
{
    /// <summary>A batch of delivery reports, in librdkafka's order (per partition, produce order). The span is reused after the call.</summary>
    void OnDeliveryReports(ReadOnlySpan<NativeDeliveryReport> reports);

    /// <summary>A client-level error (all brokers down, authentication, a fatal idempotence error when <paramref name="fatal"/>).</summary>
    void OnError(int code, string reason, bool fatal);

    /// <summary>One of librdkafka's log lines; <paramref name="level"/> is syslog's (0 emergency … 7 debug).</summary>
    void OnLog(int level, string facility, string text);

    /// <summary>librdkafka's statistics JSON (only with <c>statistics.interval.ms</c> above 0).</summary>
    void OnStatistics(string json);
}

/// <summary>
/// A producer straight on librdkafka, the edge's per-record path. A record is one <c>rd_kafka_produceva</c> call: key,
/// value and the KLAIS fields <c>seq</c>, <c>edge</c>, <c>ts</c> (three headers, or an envelope before the payload:
/// <see cref="RecordFormat"/>), and a 64-bit opaque that comes back with its report. librdkafka copies the record
/// (<see cref="Produce"/>), or sends the value from memory the caller keeps until the report
/// (<see cref="ProduceUncopied"/>). Delivery
/// reports, errors, logs and statistics arrive as events on one queue, and <see cref="Poll"/> hands reports over in
/// batches of up to 1,024, with no managed object per record. Header names and the edge id are UTF-8 made once.
/// </summary>
/// <remarks>
/// <see cref="Produce"/>, <see cref="Purge"/>, <see cref="Flush"/> and <see cref="ProbeTopic"/> may be called from any
/// thread; <see cref="Poll"/> from one thread at a time. With delivery reports as events, <c>rd_kafka_flush</c> does
/// not serve them: it waits for the out queue (reports not yet polled included) to empty, so somebody must be polling
/// meanwhile. <see cref="Dispose"/> may race with any call: a call under way holds the client (and its queue and topic
/// handles) until it returns, and a call after it finds no client: <see cref="Produce"/> answers
/// <see cref="Destroyed"/>, <see cref="Poll"/> no event, <see cref="OutQueueLength"/> 0.
/// </remarks>
public sealed unsafe class NativeProducer : IDisposable
{
    /// <summary>librdkafka's <c>__DESTROY</c>: what <see cref="Produce"/> answers once the producer is disposed; nothing was taken.</summary>
    public const int Destroyed = -197;

    private const int MaxReportsPerPoll = 1024;

    private readonly SafeKafkaHandle _rk;
    private readonly IntPtr _queue;
    private readonly IntPtr _rkt;
    private readonly byte* _seqName;
    private readonly byte* _edgeName;
    private readonly byte* _tsName;
    private readonly byte* _edge;
    private readonly int _edgeLength;
    private readonly Interop.Librdkafka.Message*[] _messages = new Interop.Librdkafka.Message*[MaxReportsPerPoll];
    private readonly NativeDeliveryReport[] _reports = new NativeDeliveryReport[MaxReportsPerPoll];
    private readonly List<byte[]> _pinned = new(4);
    private int _disposed;

    /// <summary>Each producing thread's buffer for an envelope and its payload; grows to the largest record, never per record.</summary>
    [ThreadStatic]
    private static byte[]? t_envelope;

    /// <summary>The producer this thread holds open (<see cref="BeginHold"/>), if any.</summary>
    [ThreadStatic]
    private static NativeProducer? t_held;

    /// <summary>
    /// A producer of <paramref name="topic"/> with librdkafka <paramref name="config"/> (bootstrap.servers, acks, …),
    /// sending <paramref name="edge"/> as the <c>edge</c> field, in headers or in an envelope as <paramref name="format"/>
    /// says. Keys starting with <c>dotnet.</c> (Confluent.Kafka's own settings) are skipped, so a Confluent
    /// <c>ProducerConfig</c> can be passed as it is.
    /// </summary>
    public NativeProducer(IEnumerable<KeyValuePair<string, string>> config, string topic, string edge, RecordFormat format = RecordFormat.Headers)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(edge);
        if (format == RecordFormat.Envelope && Encoding.UTF8.GetByteCount(edge) > TelemetryEnvelope.MaxEdgeBytes)
        {
            throw new ArgumentException($"An edge id in an envelope is at most {TelemetryEnvelope.MaxEdgeBytes} UTF-8 bytes.", nameof(edge));
        }

        Format = format;
        var settings = config.Where(kv => !kv.Key.StartsWith("dotnet.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        settings["log.queue"] = "true";
        _rk = Interop.Librdkafka.NewProducer(settings, Interop.Librdkafka.EventDr | Interop.Librdkafka.EventError | Interop.Librdkafka.EventLog | Interop.Librdkafka.EventStats);
        _queue = Interop.Librdkafka.rd_kafka_queue_get_main(_rk);
        Interop.Librdkafka.rd_kafka_set_log_queue(_rk, IntPtr.Zero);
        Topic = topic;

        // A topic handle made once: produce by name would look the topic up under the client's lock for every record.
        _rkt = Interop.Librdkafka.rd_kafka_topic_new(_rk, topic, IntPtr.Zero);
        _rk.Own(_queue, _rkt);
        if (_rkt == IntPtr.Zero)
        {
            _rk.Dispose();
            throw new ArgumentException($"librdkafka refused the topic name '{topic}'", nameof(topic));
        }

        _seqName = Pinned("seq\0"u8);
        _edgeName = Pinned("edge\0"u8);
        _tsName = Pinned("ts\0"u8);
        _edgeLength = Encoding.UTF8.GetByteCount(edge);
        _edge = Pinned(Encoding.UTF8.GetBytes(edge + "\0"));
    }

    public string Topic { get; }

    /// <summary>Where the <c>seq</c>, <c>edge</c> and <c>ts</c> fields go: three headers, or an envelope before the payload.</summary>
    public RecordFormat Format { get; }

    /// <summary>True once <see cref="Dispose"/> was called: every later call answers as documented, without librdkafka.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Records librdkafka holds (queued, in flight) plus events not yet polled: <c>rd_kafka_outq_len</c>.</summary>
    public int OutQueueLength => WhileOpen(() => Interop.Librdkafka.rd_kafka_outq_len(_rk), 0);

    /// <summary>
    /// Hands one record to librdkafka: 0, or librdkafka's error code (-184 <c>__QUEUE_FULL</c>: back-pressure, nothing
    /// was taken; -150 <c>__FATAL</c>: the idempotent producer has failed for good; <see cref="Destroyed"/>: disposed,
    /// nothing was taken). <paramref name="opaque"/> comes back with the record's delivery report; nothing comes back
    /// for a record refused here.
    /// </summary>
    public int Produce(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint sequence, long receivedUnixNanos, long opaque)
    {
        if (!EnterProduce(out bool release))
        {
            return Destroyed;
        }

        try
        {
            return ProduceOpen(key, value, sequence, receivedUnixNanos, opaque);
        }
        finally
        {
            if (release)
            {
                _rk.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Holds the client open on the calling thread until <see cref="EndHold"/>, so that the <see cref="Produce"/> calls
    /// in between take no reference of their own: a receive thread holds once per batch instead of paying an
    /// interlocked pair per record (4 % of its time in the profile). A <see cref="Dispose"/> meanwhile is answered as
    /// usual (<see cref="Produce"/> says <see cref="Destroyed"/>); the client is freed at <see cref="EndHold"/>. False,
    /// and nothing held, once disposed. One hold per thread at a time; keep it short (one batch).
    /// </summary>
    public bool BeginHold()
    {
        if (t_held is not null)
        {
            throw new InvalidOperationException("This thread already holds a producer: end that hold first.");
        }

        if (!TryEnter())
        {
            return false;
        }

        t_held = this;
        return true;
    }

    /// <summary>Ends this thread's <see cref="BeginHold"/>; nothing to do when it holds nothing of this producer.</summary>
    public void EndHold()
    {
        if (t_held == this)
        {
            t_held = null;
            _rk.DangerousRelease();
        }
    }

    /// <summary>
    /// Bytes this producer's record values carry before the payload: the envelope's prefix
    /// (<see cref="RecordFormat.Envelope"/>), or 0 with headers. What <see cref="WriteValuePrefix"/> writes.
    /// </summary>
    public int ValuePrefixLength => Format == RecordFormat.Envelope ? TelemetryEnvelope.PrefixLength(_edgeLength) : 0;

    /// <summary>
    /// Writes the <see cref="ValuePrefixLength"/> bytes a value for <see cref="ProduceUncopied"/> starts with: the
    /// envelope with this producer's edge id, or nothing with headers.
    /// </summary>
    public void WriteValuePrefix(Span<byte> destination, uint sequence, long receivedUnixNanos)
    {
        if (Format == RecordFormat.Envelope)
        {
            TelemetryEnvelope.WritePrefix(destination, sequence, receivedUnixNanos, new ReadOnlySpan<byte>(_edge, _edgeLength));
        }
    }

    /// <summary>
    /// <see cref="Produce"/> without librdkafka's copy of the value: the record is sent from <paramref name="value"/>
    /// itself, the whole value (<see cref="WriteValuePrefix"/>'s bytes, then the payload). That memory must not move
    /// (native, or an array on the pinned heap) and must not change until the record's delivery report has been
    /// polled: librdkafka reads it whenever it builds a request, retries included (rdkafka.h: neither
    /// <c>RD_KAFKA_MSG_F_COPY</c> nor <c>_F_FREE</c>). The key is copied as always. Answers as <see cref="Produce"/>;
    /// a record refused here is not referenced.
    /// </summary>
    /// <remarks>
    /// The edge keeps each record in flight in a slot of its own anyway (to spill it if it comes back), so handing
    /// librdkafka that slot saves two copies and most of librdkafka's allocation per record.
    /// </remarks>
    public int ProduceUncopied(ReadOnlySpan<byte> key, byte* value, int valueLength, uint sequence, long receivedUnixNanos, long opaque)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!EnterProduce(out bool release))
        {
            return Destroyed;
        }

        try
        {
            return ProduceKeyed(key, value, valueLength, 0, sequence, receivedUnixNanos, opaque);
        }
        finally
        {
            if (release)
            {
                _rk.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Opens the client for one produce call: this thread's hold keeps it alive (a Dispose since then only marks it
    /// closed), else the call takes a reference of its own, to release when <paramref name="release"/>. False once disposed.
    /// </summary>
    private bool EnterProduce(out bool release)
    {
        if (t_held == this)
        {
            release = false;
            return Volatile.Read(ref _disposed) == 0;
        }

        release = TryEnter();
        return release;
    }

    private int ProduceOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint sequence, long receivedUnixNanos, long opaque)
    {
        if (Format == RecordFormat.Envelope)
        {
            return ProduceEnvelope(key, value, sequence, receivedUnixNanos, opaque);
        }

        fixed (byte* v = value)
        {
            // An empty span pins as null, and librdkafka sends a null pointer as a null value: point at a byte of ours
            // instead, so that an empty value stays empty, not null.
            return ProduceKeyed(key, v is null ? _edge : v, value.Length, Interop.Librdkafka.MsgFlagCopy, sequence, receivedUnixNanos, opaque);
        }
    }

    /// <summary>The envelope and the payload made one value in this thread's buffer, which librdkafka copies.</summary>
    private int ProduceEnvelope(ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload, uint sequence, long receivedUnixNanos, long opaque)
    {
        int prefix = ValuePrefixLength;
        int length = prefix + payload.Length;
        byte[] buffer = t_envelope is { } b && b.Length >= length ? b : (t_envelope = new byte[Math.Max(length, 2048)]);
        WriteValuePrefix(buffer, sequence, receivedUnixNanos);
        payload.CopyTo(buffer.AsSpan(prefix));
        fixed (byte* v = buffer)
        {
            return ProduceKeyed(key, v, length, Interop.Librdkafka.MsgFlagCopy, sequence, receivedUnixNanos, opaque);
        }
    }

    private int ProduceKeyed(ReadOnlySpan<byte> key, byte* value, int valueLength, int flags, uint sequence, long receivedUnixNanos, long opaque)
    {
        fixed (byte* k = key)
        {
            // As for the value: an empty key stays empty, not null.
            return ProduceVa(k is null ? _edge : k, key.Length, value, valueLength, flags, sequence, receivedUnixNanos, opaque);
        }
    }

    /// <summary>
    /// Key, value, timestamp and opaque, and in the headers format the three headers: one allocation in librdkafka for
    /// an envelope's record, six with headers.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // each entry's type and the members librdkafka reads for it are written below
    private int ProduceVa(byte* key, int keyLength, byte* value, int valueLength, int flags, uint sequence, long receivedUnixNanos, long opaque)
    {
        uint seq = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(sequence) : sequence;
        long ts = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(receivedUnixNanos) : receivedUnixNanos;
        Interop.Librdkafka.Vu* vus = stackalloc Interop.Librdkafka.Vu[9];
        int n = 0;
        vus[n++].Set(Interop.Librdkafka.VType.Rkt, (void*)_rkt);
        vus[n++].SetMemory(Interop.Librdkafka.VType.Key, key, keyLength);
        vus[n++].SetMemory(Interop.Librdkafka.VType.Value, value, valueLength);
        vus[n++].Set(Interop.Librdkafka.VType.MsgFlags, flags);
        vus[n++].Set(Interop.Librdkafka.VType.Timestamp, receivedUnixNanos / 1_000_000);
        if (Format == RecordFormat.Headers)
        {
            vus[n++].SetHeader(_seqName, &seq, sizeof(uint));
            vus[n++].SetHeader(_edgeName, _edge, _edgeLength);
            vus[n++].SetHeader(_tsName, &ts, sizeof(long));
        }

        vus[n++].Set(Interop.Librdkafka.VType.Opaque, opaque);
        return ErrorCode(Interop.Librdkafka.rd_kafka_produceva(_rk.DangerousGetHandle(), vus, (nuint)n));
    }

    /// <summary>0 for no error object, else its code (the object destroyed).</summary>
    private static int ErrorCode(IntPtr error)
    {
        if (error == IntPtr.Zero)
        {
            return 0;
        }

        int code = Interop.Librdkafka.rd_kafka_error_code(error);
        Interop.Librdkafka.rd_kafka_error_destroy(error);
        return code;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for one event and hands it to <paramref name="handler"/>: a batch of
    /// delivery reports, an error, a log line or statistics. Returns the number of delivery reports handled, or -1
    /// when no event came within the time.
    /// </summary>
    public int Poll(int timeoutMs, INativeProducerEvents handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (!TryEnter())
        {
            return -1;
        }

        IntPtr ev = IntPtr.Zero;
        try
        {
            ev = Interop.Librdkafka.rd_kafka_queue_poll(_queue, timeoutMs);
            if (ev == IntPtr.Zero)
            {
                return -1;
            }

            switch (Interop.Librdkafka.rd_kafka_event_type(ev))
            {
                case Interop.Librdkafka.EventDr:
                    return HandleReports(ev, handler);
                case Interop.Librdkafka.EventError:
                    handler.OnError(
                        Interop.Librdkafka.rd_kafka_event_error(ev),
                        Marshal.PtrToStringUTF8(Interop.Librdkafka.rd_kafka_event_error_string(ev)) ?? string.Empty,
                        Interop.Librdkafka.rd_kafka_event_error_is_fatal(ev) != 0);
                    return 0;
                case Interop.Librdkafka.EventLog:
                    byte* facility;
                    byte* text;
                    int level;
                    if (Interop.Librdkafka.rd_kafka_event_log(ev, &facility, &text, &level) == 0)
                    {
                        handler.OnLog(level, Marshal.PtrToStringUTF8((IntPtr)facility) ?? string.Empty, Marshal.PtrToStringUTF8((IntPtr)text) ?? string.Empty);
                    }

                    return 0;
                case Interop.Librdkafka.EventStats:
                    handler.OnStatistics(Marshal.PtrToStringUTF8(Interop.Librdkafka.rd_kafka_event_stats(ev)) ?? "{}");
                    return 0;
                default:
                    return 0;
            }
        }
        finally
        {
            if (ev != IntPtr.Zero)
            {
                Interop.Librdkafka.rd_kafka_event_destroy(ev);
            }

            _rk.DangerousRelease();
        }
    }

    /// <summary>
    /// Fails every record librdkafka still holds with <c>__PURGE_QUEUE</c> (never sent) and, with
    /// <paramref name="inFlight"/>, those sent and not answered with <c>__PURGE_INFLIGHT</c> (the broker may still write
    /// them). Their reports come through <see cref="Poll"/> afterwards. Returns librdkafka's error code (0: done).
    /// </summary>
    public int Purge(bool inFlight) =>
        WhileOpen(() => Interop.Librdkafka.Purge(_rk, Interop.Librdkafka.PurgeQueue | (inFlight ? Interop.Librdkafka.PurgeInFlight : 0)), Destroyed);

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for <see cref="OutQueueLength"/> to reach 0 (someone must be polling);
    /// 0 when it did, <see cref="Destroyed"/> once disposed.
    /// </summary>
    public int Flush(int timeoutMs) => WhileOpen(() => Interop.Librdkafka.rd_kafka_flush(_rk, timeoutMs), Destroyed);

    /// <summary>
    /// A metadata request for <see cref="Topic"/> over this producer's own connections: true when a broker answered,
    /// the topic exists and every partition has a leader; otherwise <paramref name="problem"/> says what is wrong.
    /// </summary>
    public bool ProbeTopic(TimeSpan timeout, out string problem)
    {
        if (!TryEnter())
        {
            problem = "producer disposed";
            return false;
        }

        Interop.Librdkafka.MetadataList* metadata = null;
        try
        {
            int error = Interop.Librdkafka.rd_kafka_metadata(_rk, 0, _rkt, &metadata, (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue));
            if (error != 0)
            {
                problem = Interop.Librdkafka.ErrorText(error);
                return false;
            }

            for (int t = 0; t < metadata->TopicCount; t++)
            {
                Interop.Librdkafka.MetadataTopic* topic = &metadata->Topics[t];
                if (Marshal.PtrToStringUTF8((IntPtr)topic->Name) != Topic)
                {
                    continue;
                }

                if (topic->Err != 0 || topic->PartitionCount == 0)
                {
                    problem = topic->Err != 0 ? $"topic: {Interop.Librdkafka.ErrorText(topic->Err)}" : "topic has no partitions";
                    return false;
                }

                for (int p = 0; p < topic->PartitionCount; p++)
                {
                    if (topic->Partitions[p].Leader < 0 || topic->Partitions[p].Err != 0)
                    {
                        problem = $"partition {topic->Partitions[p].Id} has no leader";
                        return false;
                    }
                }

                problem = string.Empty;
                return true;
            }

            problem = "topic missing from metadata";
            return false;
        }
        finally
        {
            if (metadata is not null)
            {
                Interop.Librdkafka.rd_kafka_metadata_destroy(metadata);
            }

            _rk.DangerousRelease();
        }
    }

    /// <summary>The fatal error that stopped the idempotent producer, or null while there is none.</summary>
    public string? FatalError() => WhileOpen(() =>
    {
        byte* text = stackalloc byte[512];
        int code = Interop.Librdkafka.rd_kafka_fatal_error(_rk, text, 512);
        return code == 0 ? null : $"{Interop.Librdkafka.ErrorText(code)}: {Marshal.PtrToStringUTF8((IntPtr)text)}";
    }, (string?)null);

    /// <summary>
    /// Destroys the client without flushing: records it still holds are dropped. A call under way on another thread
    /// keeps the client until it returns, a thread's hold (<see cref="BeginHold"/>) until it ends, and the header names
    /// they pass are the producer's own pinned arrays.
    /// </summary>
    public void Dispose()
    {
        // Marked first: a thread holding the client (or inside a call) keeps it alive until it lets go, but from now
        // on every call answers as disposed.
        Volatile.Write(ref _disposed, 1);
        _rk.Dispose(); // closing twice is harmless
    }

    /// <summary>
    /// A copy of <paramref name="bytes"/> on the pinned heap: it never moves and lives as long as this producer, so
    /// no call under way can pass librdkafka freed memory, and nothing is left to free at <see cref="Dispose"/>.
    /// </summary>
    private byte* Pinned(ReadOnlySpan<byte> bytes)
    {
        byte[] array = GC.AllocateArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(array);
        _pinned.Add(array);
        return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
    }

    /// <summary>
    /// <paramref name="call"/>'s answer with a reference on the client held, or <paramref name="closed"/> once it is
    /// disposed: the calls off the per-record path (the per-record ones take the reference inline, with no delegate).
    /// </summary>
    private T WhileOpen<T>(Func<T> call, T closed)
    {
        if (!TryEnter())
        {
            return closed;
        }

        try
        {
            return call();
        }
        finally
        {
            _rk.DangerousRelease();
        }
    }

    /// <summary>Takes a reference on the client for one call; false once it is disposed.</summary>
    private bool TryEnter()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        bool added = false;
        try
        {
            _rk.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the reference.
        }

        return added;
    }

    /// <summary>Hands over every report in a DR event, 1,024 at a time: one event holds a whole produce response (thousands of records).</summary>
    private int HandleReports(IntPtr ev, INativeProducerEvents handler)
    {
        int total = 0;
        fixed (Interop.Librdkafka.Message** messages = _messages)
        {
            while (true)
            {
                int n = (int)Interop.Librdkafka.rd_kafka_event_message_array(ev, messages, MaxReportsPerPoll);
                if (n == 0)
                {
                    return total;
                }

                for (int i = 0; i < n; i++)
                {
                    Interop.Librdkafka.Message* message = messages[i];
                    int error = message->Err;

                    // The status costs a call; an acknowledged record is persisted by definition.
                    int status = error == 0 ? 2 : Interop.Librdkafka.rd_kafka_message_status(message);
                    _reports[i] = new NativeDeliveryReport((long)message->Private, error, status);
                }

                handler.OnDeliveryReports(_reports.AsSpan(0, n));
                total += n;
            }
        }
    }
}
