using Klais.Edge.Dam;
using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Delivery;

[Trait("Category", "Unit")]
public sealed class DeliveryGateTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "klais-gate-" + Guid.NewGuid().ToString("N"));
    private readonly SpillLog _spill;

    public DeliveryGateTests() =>
        _spill = new SpillLog(new SpillOptions { Directory = _dir, Fsync = SpillFsync.Never }, new ManualTimeProvider(), NullLogger<SpillLog>.Instance);

    public void Dispose()
    {
        _spill.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void A_new_gate_delivers_directly_and_the_spill_takes_no_appends()
    {
        var gate = new DeliveryGate(_spill, backlog: false);

        Assert.Equal(DeliveryMode.Direct, gate.Mode);
        Assert.Equal(DeliveryGate.Open, gate.ProduceGate);
        Assert.Equal(SpillAppendResult.Closed, _spill.Append(Record(1)));
    }

    [Fact]
    public void A_gate_over_a_backlog_starts_spilling_with_the_spill_open()
    {
        var gate = new DeliveryGate(_spill, backlog: true);

        Assert.Equal(DeliveryMode.Spilling, gate.Mode);
        Assert.NotEqual(DeliveryGate.Open, gate.ProduceGate);
        Assert.Equal(SpillAppendResult.Appended, _spill.Append(Record(1)));
    }

    [Fact]
    public async Task Direct_goes_to_draining_once_then_to_spilling_with_the_records_held_meanwhile_spilled_in_produce_order()
    {
        var gate = new DeliveryGate(_spill, backlog: false);
        var drainMayEnd = new ManualResetEventSlim();
        var spilled = new List<uint>();

        Assert.True(gate.TryBeginDraining(() =>
        {
            drainMayEnd.Wait();
            gate.EndDraining(r =>
            {
                spilled.Add(r.Sequence);
                Assert.Equal(SpillAppendResult.Appended, _spill.Append(r));
            });
        }));
        Assert.Equal(DeliveryMode.Draining, gate.Mode);
        Assert.NotEqual(DeliveryGate.Open, gate.ProduceGate);
        Assert.False(gate.TryBeginDraining(() => throw new InvalidOperationException("a second drain")));

        // Reported in another order than produced: spilled in produce order.
        Assert.True(gate.TryHoldReturned(Returned(sequence: 3, order: 30)));
        Assert.True(gate.TryHoldReturned(Returned(sequence: 1, order: 10)));
        Assert.True(gate.TryHoldReturned(Returned(sequence: 2, order: 20)));
        drainMayEnd.Set();
        await gate.Drained;

        Assert.Equal(DeliveryMode.Spilling, gate.Mode);
        Assert.Equal([1u, 2u, 3u], spilled);
        Assert.False(gate.TryHoldReturned(Returned(sequence: 4, order: 40)));   // the caller spills it itself now
        Assert.False(gate.TryBeginDraining(() => throw new InvalidOperationException("drain while spilling")));
    }

    [Fact]
    public void Spilling_goes_back_to_direct_only_when_the_reader_has_read_everything_and_then_the_spill_closes()
    {
        var gate = new DeliveryGate(_spill, backlog: true);
        Assert.Equal(SpillAppendResult.Appended, _spill.Append(Record(1)));
        _spill.FlushAndSync();
        using var reader = new SpillReader(_spill);

        Assert.False(gate.TryReturnToDirect(reader.Position));
        Assert.Equal(DeliveryMode.Spilling, gate.Mode);

        Assert.True(reader.TryRead(out _, out _, out _));
        Assert.True(gate.TryReturnToDirect(reader.Position));
        Assert.Equal(DeliveryMode.Direct, gate.Mode);
        Assert.Equal(DeliveryGate.Open, gate.ProduceGate);
        Assert.Equal(SpillAppendResult.Closed, _spill.Append(Record(2)));
    }

    [Fact]
    public void Switches_out_of_order_are_refused()
    {
        var direct = new DeliveryGate(_spill, backlog: false);
        Assert.Throws<InvalidOperationException>(() => direct.EndDraining(_ => { }));
        Assert.Throws<InvalidOperationException>(() => direct.TryReturnToDirect(new SpillPosition(0, 0)));
        Assert.False(direct.TryHoldReturned(Returned(sequence: 1, order: 1)));
        Assert.Equal(DeliveryMode.Direct, direct.Mode);

        var spilling = new DeliveryGate(_spill, backlog: true);
        Assert.Throws<InvalidOperationException>(() => spilling.EndDraining(_ => { }));
        Assert.Equal(DeliveryMode.Spilling, spilling.Mode);
    }

    [Fact]
    public async Task Returning_to_direct_while_draining_is_refused()
    {
        var gate = new DeliveryGate(_spill, backlog: false);
        var drainMayEnd = new ManualResetEventSlim();
        Assert.True(gate.TryBeginDraining(() =>
        {
            drainMayEnd.Wait();
            gate.EndDraining(_ => { });
        }));

        Assert.Throws<InvalidOperationException>(() => gate.TryReturnToDirect(new SpillPosition(0, 0)));
        Assert.Equal(DeliveryMode.Draining, gate.Mode);
        drainMayEnd.Set();
        await gate.Drained;
        Assert.Equal(DeliveryMode.Spilling, gate.Mode);
    }

    [Fact]
    public void A_stopped_gate_closes_the_spill_for_good_and_makes_no_switch()
    {
        var direct = new DeliveryGate(_spill, backlog: true);
        direct.Stop();

        Assert.True(direct.IsStopped);
        Assert.Equal(DeliveryMode.Spilling, direct.Mode);
        Assert.Equal(SpillAppendResult.Closed, _spill.Append(Record(1)));
        using var reader = new SpillReader(_spill);
        Assert.False(direct.TryReturnToDirect(reader.Position));
        Assert.Equal(DeliveryMode.Spilling, direct.Mode);
    }

    [Fact]
    public void A_stopped_gate_in_direct_delivery_never_begins_to_drain()
    {
        var gate = new DeliveryGate(_spill, backlog: false);
        gate.Stop();

        Assert.False(gate.TryBeginDraining(() => throw new InvalidOperationException("drain after stop")));
        Assert.Equal(DeliveryMode.Direct, gate.Mode);
        Assert.Equal(SpillAppendResult.Closed, _spill.Append(Record(1)));
    }

    [Fact]
    public async Task Many_threads_beginning_to_drain_at_once_start_one_drain()
    {
        var gate = new DeliveryGate(_spill, backlog: false);
        int drains = 0;
        using var start = new Barrier(8);
        Task<bool>[] callers = [.. Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return gate.TryBeginDraining(() =>
            {
                Interlocked.Increment(ref drains);
                gate.EndDraining(_ => { });
            });
        }))];

        bool[] began = await Task.WhenAll(callers);
        await gate.Drained;
        Assert.Equal(1, began.Count(b => b));
        Assert.Equal(1, drains);
        Assert.Equal(1, gate.Drains);
        Assert.Equal(DeliveryMode.Spilling, gate.Mode);
    }

    [Fact]
    public async Task Readers_producing_through_the_gate_during_its_switches_never_produce_after_the_drain_found_librdkafka_empty()
    {
        var gate = new DeliveryGate(_spill, backlog: false);
        long inFlight = 0, produced = 0, late = 0;
        bool empty = false;
        using var stop = new CancellationTokenSource();

        // What TelemetryProducer.TryProduceWhile does: count the record in flight, then read the gate.
        Task[] readers = [.. Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref inFlight);
                if (Volatile.Read(ref gate.ProduceGate) == DeliveryGate.Open)
                {
                    Interlocked.Increment(ref produced);
                    if (Volatile.Read(ref empty))
                    {
                        Interlocked.Increment(ref late);
                    }
                }

                Interlocked.Decrement(ref inFlight);
            }
        }))];

        for (int cycle = 0; cycle < 50; cycle++)
        {
            long before = Interlocked.Read(ref produced);
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref produced) > before, TimeSpan.FromSeconds(10)), "the readers produce while direct");
            Assert.True(gate.TryBeginDraining(() =>
            {
                // The router's drain: purge until nothing is in flight, and only then spill.
                SpinWait.SpinUntil(() => Interlocked.Read(ref inFlight) == 0);
                Volatile.Write(ref empty, true);
                gate.EndDraining(r => _spill.Append(r));
            }));
            await gate.Drained;
            Assert.Equal(SpillAppendResult.Appended, _spill.Append(Record((uint)cycle)));
            _spill.FlushAndSync();
            using var reader = new SpillReader(_spill);
            while (reader.TryRead(out _, out _, out _))
            {
            }

            Volatile.Write(ref empty, false);
            Assert.True(gate.TryReturnToDirect(reader.Position));
            Assert.Equal(DeliveryMode.Direct, gate.Mode);
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers);
        Assert.Equal(0, Interlocked.Read(ref late));
    }

    private static Admitted Record(uint sequence) => new("dev-1"u8, sequence, "{}"u8, sequence);

    private static InFlightRecord Returned(uint sequence, long order)
    {
        var record = new InFlightRecord(0);
        record.Fill(Record(sequence), InFlightRecord.Direct, order);
        return record;
    }
}
