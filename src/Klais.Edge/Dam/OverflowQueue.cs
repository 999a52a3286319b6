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
/// <para>
/// The bound can change at run time (<see cref="Resize"/>) up to the capacity given at construction. Both arrays
/// are allocated for that capacity uninitialized, so pages the rings never reach are never made resident; each
/// ring wraps at the current bound, not at its array's end. Growing takes effect at once (a wrapped entry ring
/// is unwrapped into the new room). Shrinking never drops a queued record: the queue refuses new ones until it
/// has drained below the new bound, and each ring moves its wrap point down once no queued record lies beyond it.
/// Accepted: after growing while the byte ring is wrapped, the new bytes become usable only once the oldest
/// records (those before the wrap) have drained; until then the ring refuses as it would have at the old bound.
/// </para>
/// </remarks>
internal sealed class OverflowQueue
{
    private readonly Lock _gate = new();
    private readonly byte[] _ring;
    private readonly Entry[] _entries;
    private int _maxMessages;
    private int _maxBytes;
    private int _slots;
    private int _end;
    private int _first;
    private int _count;
    private int _head;
    private int _tail;
    private bool _wrapped;
    private long _bytes;

    /// <param name="maxMessages">Bound in records now.</param>
    /// <param name="maxBytes">Bound in bytes now.</param>
    /// <param name="capacityMessages">Largest bound in records <see cref="Resize"/> may set (the entry array's length).</param>
    /// <param name="capacityBytes">Largest bound in bytes <see cref="Resize"/> may set (the byte array's length).</param>
    public OverflowQueue(int maxMessages, int maxBytes, int capacityMessages, int capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityMessages, maxMessages);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, maxBytes);

        // Uninitialized: pages of a large fresh array are committed only when first written, and the rings write
        // only up to the bound in force.
        _ring = GC.AllocateUninitializedArray<byte>(capacityBytes);
        _entries = GC.AllocateUninitializedArray<Entry>(capacityMessages);
        _maxMessages = _slots = maxMessages;
        _maxBytes = _end = maxBytes;
    }

    public OverflowQueue(int maxMessages, int maxBytes)
        : this(maxMessages, maxBytes, maxMessages, maxBytes)
    {
    }

    public int Count => Volatile.Read(ref _count);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Records the queue accepts at most now.</summary>
    public int MaxMessages => Volatile.Read(ref _maxMessages);

    /// <summary>Bytes (device id + payload) the queue accepts at most now.</summary>
    public int MaxBytes => Volatile.Read(ref _maxBytes);

    /// <summary>Largest bound <see cref="Resize"/> accepts, in records.</summary>
    public int CapacityMessages => _entries.Length;

    /// <summary>Largest bound <see cref="Resize"/> accepts, in bytes.</summary>
    public int CapacityBytes => _ring.Length;

    /// <summary>New bounds from the next record on; queued records all stay (see the class remarks).</summary>
    public void Resize(int maxMessages, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxMessages, _entries.Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, _ring.Length);
        lock (_gate)
        {
            if (maxMessages > _slots)
            {
                if (_first + _count > _slots)
                {
                    // Unwrap: the older part [first, slots) moves to the end of the larger ring, the rest stays at 0.
                    int older = _slots - _first;
                    Array.Copy(_entries, _first, _entries, maxMessages - older, older);
                    _first = maxMessages - older;
                }

                _slots = maxMessages;
            }

            // Growing the byte ring's wrap point is safe at any time: nothing lies beyond it, and a wrapped ring
            // does not look at it until the head has wrapped too.
            _end = Math.Max(_end, maxBytes);
            Volatile.Write(ref _maxMessages, maxMessages);
            Volatile.Write(ref _maxBytes, maxBytes);
            Settle();
        }
    }

    /// <summary>Copies the record in; false when the queue is full by count or by bytes.</summary>
    /// <param name="wasEmpty">Whether this record is the only one now (the drainer may be parked).</param>
    public bool TryEnqueue(in Admitted record, bool paid, out bool wasEmpty)
    {
        int size = record.DeviceId.Length + record.Payload.Length;
        lock (_gate)
        {
            wasEmpty = _count == 0;
            if (_count >= _maxMessages || _count == _slots || _bytes + size > _maxBytes || !TryReserve(size, out int offset))
            {
                return false;
            }

            record.DeviceId.CopyTo(_ring.AsSpan(offset));
            record.Payload.CopyTo(_ring.AsSpan(offset + record.DeviceId.Length));
            int slot = (_first + _count) % _slots;
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
            _first = (_first + 1) % _slots;
            _bytes -= gone.IdLength + gone.PayloadLength;
            Volatile.Write(ref _count, _count - 1);
            if (_count != 0)
            {
                int next = _entries[_first].Offset;
                if (next < _head)
                {
                    _wrapped = false;
                }

                _head = next;
            }

            Settle();
        }
    }

    /// <summary>Empties reset both rings; after a shrink, each ring's wrap point moves down once nothing queued lies beyond it.</summary>
    private void Settle()
    {
        if (_count == 0)
        {
            _first = _head = _tail = 0;
            _wrapped = false;
            _slots = _maxMessages;
            _end = _maxBytes;
            return;
        }

        if (_slots > _maxMessages && _first + _count <= _maxMessages)
        {
            _slots = _maxMessages;
        }

        if (_end > _maxBytes && !_wrapped && _tail <= _maxBytes)
        {
            _end = _maxBytes;
        }
    }

    private bool TryReserve(int size, out int offset)
    {
        if (!_wrapped && _end - _tail >= size)
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
