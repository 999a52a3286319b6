using Klais.Edge.Dam;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;

namespace Klais.Edge.Delivery;

/// <summary>Where the router sends what the Dam lets through.</summary>
internal enum DeliveryMode
{
    /// <summary>Circuit closed, spill empty: straight to librdkafka.</summary>
    Direct = 0,

    /// <summary>Switching to the spill: librdkafka's records are being taken back (purged) and spilled; new records wait in the Dam.</summary>
    Draining = 1,

    /// <summary>Circuit open, or a backlog is being replayed: new records go to the spill's tail.</summary>
    Spilling = 2,
}

/// <summary>
/// The delivery mode and its transitions, Direct → Draining → Spilling → Direct and no other: the one place that
/// knows which switch is legal and who may hand a record to librdkafka or to the spill in each mode.
/// </summary>
/// <remarks>
/// <para>Invariant that keeps each device's order: <b>whatever librdkafka holds is older than anything in the
/// spill.</b> Each mode says who may hand a record where so that it holds:</para>
/// <list type="bullet">
/// <item><see cref="DeliveryMode.Direct"/>: the Dam's threads produce to librdkafka, while <see cref="ProduceGate"/>
/// reads <see cref="Open"/> (<see cref="TelemetryProducer.TryProduceWhile"/>). The spill takes no appends.</item>
/// <item><see cref="DeliveryMode.Draining"/>: nobody produces from the Dam (it holds its records); what librdkafka
/// gives back is held here (<see cref="TryHoldReturned"/>) and spilled in produce order when the drain ends, before
/// anything else reaches the spill (<see cref="EndDraining"/>).</item>
/// <item><see cref="DeliveryMode.Spilling"/>: the Dam's records and records librdkafka gives back go to the spill's
/// tail; only the replayer produces, from the spill's head, so librdkafka holds only records older than the spill's
/// remainder.</item>
/// <item>Stopped (<see cref="Stop"/>, not a mode: <see cref="Mode"/> keeps the last one): the spill is closed for
/// good, nothing is handed to it any more and no switch is made; a record that still arrives is the router's to
/// count as lost.</item>
/// </list>
/// <para>Direct → Draining switches with a full fence (<see cref="Interlocked.Exchange(ref int, int)"/>): a Dam
/// thread that read Direct just before has already counted its record in flight, so the drain, which waits for the
/// in-flight count to reach 0, cannot miss it. Spilling → Direct happens under the spill's append lock
/// (<see cref="SpillLog.TryCloseWhenCaughtUp"/>) when the replayer has read everything written: an append waiting
/// for that lock sees the spill closed and goes direct, behind the replayed records. Lock order: this gate's lock,
/// then the spill's, never the other way (the switch back to Direct therefore takes only the spill's; only the
/// replayer leaves Spilling, so it needs no other).</para>
/// </remarks>
internal sealed class DeliveryGate
{
    /// <summary>What <see cref="ProduceGate"/> reads while the Dam may produce to librdkafka.</summary>
    public const int Open = (int)DeliveryMode.Direct;

    private readonly SpillLog _spill;
    private readonly Lock _lock = new();
    private readonly List<HeldRecord> _held = [];
    private int _mode;
    private long _drains;
    private bool _stopped;

    /// <summary>
    /// A gate in <see cref="DeliveryMode.Direct"/>, or in <see cref="DeliveryMode.Spilling"/> when
    /// <paramref name="backlog"/> (records of an earlier run go first, new records queue behind them).
    /// </summary>
    public DeliveryGate(SpillLog spill, bool backlog)
    {
        _spill = spill;
        if (backlog)
        {
            spill.OpenForAppends();
            _mode = (int)DeliveryMode.Spilling;
        }
    }

    public DeliveryMode Mode => (DeliveryMode)Volatile.Read(ref _mode);

    /// <summary>True once <see cref="Stop"/> has closed the spill for good.</summary>
    public bool IsStopped => Volatile.Read(ref _stopped);

    /// <summary>
    /// The field <see cref="TelemetryProducer.TryProduceWhile"/> reads: the Dam produces while it reads
    /// <see cref="Open"/>. Only the gate writes it.
    /// </summary>
    public ref int ProduceGate => ref _mode;

    /// <summary>
    /// Direct → Draining: opens the spill for appends and closes the produce gate, then runs <paramref name="drain"/>
    /// on the thread pool; the drain takes everything back from librdkafka and ends with <see cref="EndDraining"/>.
    /// False, and nothing happens, when the mode is not Direct (another thread began first, or the router is spilling
    /// or replaying) or the gate is stopped.
    /// </summary>
    public bool TryBeginDraining(Action drain)
    {
        lock (_lock)
        {
            if (_mode != (int)DeliveryMode.Direct || _stopped)
            {
                return false;
            }

            _spill.OpenForAppends();
            Interlocked.Exchange(ref _mode, (int)DeliveryMode.Draining);   // a full fence: see TelemetryProducer.TryProduceWhile
            Interlocked.Increment(ref _drains);
            Drained = Task.Run(drain);
            return true;
        }
    }

    /// <summary>Times the gate went from Direct to Draining (each an episode of spilling).</summary>
    public long Drains => Interlocked.Read(ref _drains);

    /// <summary>The last drain started by <see cref="TryBeginDraining"/> (completed when there was none).</summary>
    public Task Drained { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// While draining, keeps a copy of a record librdkafka gave back, to be spilled when the drain ends; false in any
    /// other mode (the caller spills it itself).
    /// </summary>
    public bool TryHoldReturned(InFlightRecord record)
    {
        lock (_lock)
        {
            if (_mode != (int)DeliveryMode.Draining)
            {
                return false;
            }

            _held.Add(new HeldRecord(record));
            return true;
        }
    }

    /// <summary>
    /// Draining → Spilling: hands the records held while draining to <paramref name="spill"/> in produce order
    /// (librdkafka reports in-flight and queued records of one partition in separate passes, not necessarily oldest
    /// first), then lets new records into the spill. Only the drain calls it, once librdkafka holds nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The mode is not Draining.</exception>
    public void EndDraining(Action<Admitted> spill)
    {
        lock (_lock)
        {
            if (_mode != (int)DeliveryMode.Draining)
            {
                throw IllegalSwitch(DeliveryMode.Spilling);
            }

            HeldRecord[] held = [.. _held];
            _held.Clear();
            Array.Sort(held, static (a, b) => a.Order.CompareTo(b.Order));
            foreach (HeldRecord r in held)
            {
                spill(r.Record);
            }

            Interlocked.Exchange(ref _mode, (int)DeliveryMode.Spilling);
        }
    }

    /// <summary>
    /// Spilling → Direct when the replayer, at <paramref name="reader"/>, has read everything written: the spill
    /// closes for appends and the mode switches under its lock. False when records are still to be read (or buffered),
    /// or the gate is stopped.
    /// </summary>
    /// <exception cref="InvalidOperationException">The mode is not Spilling.</exception>
    public bool TryReturnToDirect(SpillPosition reader)
    {
        if (Volatile.Read(ref _mode) != (int)DeliveryMode.Spilling)
        {
            throw IllegalSwitch(DeliveryMode.Direct);
        }

        return !IsStopped && _spill.TryCloseWhenCaughtUp(reader, () => Interlocked.Exchange(ref _mode, (int)DeliveryMode.Direct));
    }

    /// <summary>
    /// The router's stop: closes the spill for good (sealed, written, fsynced). From here no switch is made and the
    /// spill refuses every append; the mode stays what it was.
    /// </summary>
    public void Stop()
    {
        lock (_lock)
        {
            Volatile.Write(ref _stopped, true);
        }

        _spill.Close();
    }

    private InvalidOperationException IllegalSwitch(DeliveryMode to) =>
        new($"Delivery cannot switch from {Mode} to {to}: the modes go Direct → Draining → Spilling → Direct.");

    /// <summary>A copy of a record librdkafka gave back while draining, kept until the drain ends.</summary>
    private sealed class HeldRecord(InFlightRecord from)
    {
        private readonly byte[] _id = from.Record.DeviceId.ToArray();
        private readonly byte[] _payload = from.Record.Payload.ToArray();
        private readonly uint _sequence = from.Sequence;
        private readonly long _received = from.ReceivedUnixNanos;

        public long Order { get; } = from.Order;

        public Admitted Record => new(_id, _sequence, _payload, _received);
    }
}
