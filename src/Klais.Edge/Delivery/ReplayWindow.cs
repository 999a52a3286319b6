using Klais.Edge.Spill;

namespace Klais.Edge.Delivery;

/// <summary>
/// The records read from the spill whose fate is not settled yet, in spill order. Kafka acknowledges them out of
/// order across partitions, so the window tracks each one: the acknowledged prefix is what the checkpoint may
/// pass, and records acknowledged beyond it are listed so they are never sent twice — neither after a rewind
/// (some replayed records came back undelivered) nor after a restart.
/// </summary>
/// <remarks>Tickets grow forever; a ticket's entry lives at <c>ticket % capacity</c>. Acks arrive on the poll thread, reads come from the replayer: one lock.</remarks>
internal sealed class ReplayWindow
{
    private readonly Lock _gate = new();
    private readonly Entry[] _ring;
    private long _head;
    private long _tail;
    private int _inFlight;
    private int _failed;
    private long _newlyDone;

    public ReplayWindow(int capacity) => _ring = new Entry[capacity];

    private enum State : byte
    {
        InFlight,
        Acked,
        Failed,

        /// <summary>Listed as acknowledged by the checkpoint: never sent, only accounted for.</summary>
        AlreadyDone,
    }

    public int Capacity => _ring.Length;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return (int)(_tail - _head);
            }
        }
    }

    public bool IsFull
    {
        get
        {
            lock (_gate)
            {
                return _tail - _head >= _ring.Length;
            }
        }
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Records that came back undelivered since the last <see cref="Rewind"/>.</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Adds a record about to be produced; returns its ticket.</summary>
    public long Add(SpillPosition position, bool alreadyDone)
    {
        lock (_gate)
        {
            long ticket = _tail++;
            _ring[ticket % _ring.Length] = new Entry(position, alreadyDone ? State.AlreadyDone : State.InFlight);
            if (!alreadyDone)
            {
                _inFlight++;
            }

            AdvanceLocked();
            return ticket;
        }
    }

    /// <summary>Takes back the last <see cref="Add"/> (the producer refused the record; the reader pushed it back).</summary>
    public void RemoveLast(long ticket)
    {
        lock (_gate)
        {
            if (ticket != _tail - 1)
            {
                throw new InvalidOperationException("Only the last ticket can be removed.");
            }

            _tail--;
            _inFlight--;
        }
    }

    public void MarkAcked(long ticket) => Settle(ticket, State.Acked);

    public void MarkFailed(long ticket) => Settle(ticket, State.Failed);

    /// <summary>Where the checkpoint may point: the oldest unsettled record, or <paramref name="reader"/> when none is.</summary>
    public SpillPosition Prefix(SpillPosition reader)
    {
        lock (_gate)
        {
            return _head < _tail ? _ring[_head % _ring.Length].Position : reader;
        }
    }

    /// <summary>Positions of records beyond the prefix that are done (acknowledged, or already done), ascending.</summary>
    public List<SpillPosition> DoneBeyondPrefix()
    {
        lock (_gate)
        {
            var done = new List<SpillPosition>();
            for (long t = _head; t < _tail; t++)
            {
                Entry e = _ring[t % _ring.Length];
                if (e.State is State.Acked or State.AlreadyDone)
                {
                    done.Add(e.Position);
                }
            }

            return done;
        }
    }

    /// <summary>Records acknowledged and passed by the prefix since the last call (for the spill's pending count).</summary>
    public long TakeNewlyDone()
    {
        lock (_gate)
        {
            long n = _newlyDone;
            _newlyDone = 0;
            return n;
        }
    }

    /// <summary>
    /// After some records came back undelivered and nothing is in flight any more: empties the window and returns
    /// where reading must start again and which records to pass over there.
    /// </summary>
    public (SpillPosition From, List<SpillPosition> Skip) Rewind(SpillPosition reader)
    {
        lock (_gate)
        {
            if (_inFlight != 0)
            {
                throw new InvalidOperationException($"Rewind with {_inFlight} records still in flight.");
            }

            SpillPosition from = _head < _tail ? _ring[_head % _ring.Length].Position : reader;
            var skip = new List<SpillPosition>();
            for (long t = _head; t < _tail; t++)
            {
                Entry e = _ring[t % _ring.Length];
                if (e.State is State.Acked or State.AlreadyDone)
                {
                    skip.Add(e.Position);
                    if (e.State == State.Acked)
                    {
                        _newlyDone++;   // done now, even though the prefix has not passed it
                    }
                }
            }

            _head = _tail;
            _failed = 0;
            return (from, skip);
        }
    }

    private void Settle(long ticket, State state)
    {
        lock (_gate)
        {
            if (ticket < _head || ticket >= _tail)
            {
                return;   // a report for a record already rewound over
            }

            ref Entry e = ref _ring[ticket % _ring.Length];
            if (e.State != State.InFlight)
            {
                return;
            }

            e.State = state;
            _inFlight--;
            if (state == State.Failed)
            {
                _failed++;
            }

            AdvanceLocked();
        }
    }

    private void AdvanceLocked()
    {
        while (_head < _tail)
        {
            State s = _ring[_head % _ring.Length].State;
            if (s is not (State.Acked or State.AlreadyDone))
            {
                break;
            }

            if (s == State.Acked)
            {
                _newlyDone++;
            }

            _head++;
        }
    }

    private struct Entry(SpillPosition position, State state)
    {
        public readonly SpillPosition Position = position;
        public State State = state;
    }
}
