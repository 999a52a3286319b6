namespace Klais.Edge.Dam;

/// <summary>
/// The Dam's bounded FIFO: a preallocated byte ring (device id and payload of each record, contiguous)
/// and an entry ring, both behind one lock. This is the slow path; the pass path never takes the lock,
/// it only reads <see cref="Count"/>. Nothing is allocated per record.
/// </summary>
/// <remarks>
/// Single consumer: the drainer peeks the oldest entry, reads its bytes outside the lock (producers never
/// write the region of a queued record), delivers, and only then dequeues. <see cref="Count"/> therefore
/// drops only after the sink accepted the record, so a receive thread that sees an empty queue cannot
/// overtake a record that is being handed over.
/// A record goes where it fits contiguously; when the tail of the ring is too short it wraps to the start
/// and the tail stays unused until the ring catches up, so the ring may refuse a record while
/// <see cref="Bytes"/> is still a little below the limit (by less than one record).
/// </remarks>
internal sealed class OverflowQueue
{
    private readonly Lock _gate = new();
    private readonly byte[] _ring;
    private readonly Entry[] _entries;
    private int _first;
    private int _count;
    private int _head;
    private int _tail;
    private bool _wrapped;
    private long _bytes;

    public OverflowQueue(int maxMessages, int maxBytes)
    {
        // Uninitialized: pages of a large fresh array are committed only when first written.
        _ring = GC.AllocateUninitializedArray<byte>(maxBytes);
        _entries = new Entry[maxMessages];
    }

    public int Count => Volatile.Read(ref _count);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Copies the record in; false when the queue is full by count or by bytes.</summary>
    /// <param name="wasEmpty">Whether this record is the only one now (the drainer may be parked).</param>
    public bool TryEnqueue(in Admitted record, bool paid, out bool wasEmpty)
    {
        int size = record.DeviceId.Length + record.Payload.Length;
        lock (_gate)
        {
            wasEmpty = _count == 0;
            if (_count == _entries.Length || _bytes + size > _ring.Length || !TryReserve(size, out int offset))
            {
                return false;
            }

            record.DeviceId.CopyTo(_ring.AsSpan(offset));
            record.Payload.CopyTo(_ring.AsSpan(offset + record.DeviceId.Length));
            int slot = (_first + _count) % _entries.Length;
            _entries[slot] = new Entry(offset, record.DeviceId.Length, record.Payload.Length, record.Sequence, record.ReceivedUnixNanos, paid);
            _bytes += size;
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
    }

    /// <summary>The oldest entry, left in place. Consumer only.</summary>
    public bool TryPeek(out Entry entry)
    {
        lock (_gate)
        {
            entry = _count == 0 ? default : _entries[_first];
            return _count != 0;
        }
    }

    /// <summary>The oldest record as the sink sees it; valid until <see cref="Dequeue"/>. Consumer only.</summary>
    public Admitted View(in Entry entry)
    {
        var bytes = new ReadOnlySpan<byte>(_ring, entry.Offset, entry.IdLength + entry.PayloadLength);
        return new Admitted(bytes[..entry.IdLength], entry.Sequence, bytes[entry.IdLength..], entry.ReceivedUnixNanos);
    }

    /// <summary>Marks the oldest record as having paid its token (the sink refused it after the charge).</summary>
    public void MarkOldestPaid()
    {
        lock (_gate)
        {
            _entries[_first] = _entries[_first] with { Paid = true };
        }
    }

    /// <summary>Removes the oldest record after the sink accepted it. Consumer only.</summary>
    public void Dequeue()
    {
        lock (_gate)
        {
            Entry gone = _entries[_first];
            _first = (_first + 1) % _entries.Length;
            _bytes -= gone.IdLength + gone.PayloadLength;
            Volatile.Write(ref _count, _count - 1);
            if (_count == 0)
            {
                _head = _tail = 0;
                _wrapped = false;
                return;
            }

            int next = _entries[_first].Offset;
            if (next < _head)
            {
                _wrapped = false;
            }

            _head = next;
        }
    }

    private bool TryReserve(int size, out int offset)
    {
        if (_count == 0)
        {
            _head = _tail = 0;
            _wrapped = false;
        }

        if (!_wrapped && _ring.Length - _tail >= size)
        {
            offset = _tail;
        }
        else if (!_wrapped && _head >= size)
        {
            offset = 0;
            _wrapped = true;
        }
        else if (_wrapped && _head - _tail >= size)
        {
            offset = _tail;
        }
        else
        {
            offset = -1;
            return false;
        }

        _tail = offset + size;
        return true;
    }

    /// <summary>Where a queued record lives in the ring and what the sink needs besides its bytes.</summary>
    internal readonly record struct Entry(int Offset, int IdLength, int PayloadLength, uint Sequence, long ReceivedUnixNanos, bool Paid);
}
