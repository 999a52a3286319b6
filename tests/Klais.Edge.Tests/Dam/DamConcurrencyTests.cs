using System.Buffers.Binary;
using System.Collections.Concurrent;
using Klais.Edge.Dam;
using Klais.Testing;

namespace Klais.Edge.Tests.Dam;

using Dam = Klais.Edge.Dam.Dam;

public sealed class DamConcurrencyTests
{
    private const int Threads = 4;
    private const int PerThread = 25_000;

    [Fact]
    public void Four_threads_offering_100k_records_each_get_delivered_exactly_once()
    {
        var clock = new ManualTimeProvider();
        var sink = new OrderCheckingSink();
        using var dam = new Dam(DamTesting.Options(rate: DamOptions.MaxRateLimit, burst: 1_000_000), sink, clock);

        RunOfferers(dam, clock, advanceEvery: 0);

        Assert.Equal(Threads * PerThread, dam.Passed);
        Assert.Equal(Threads * PerThread, dam.Received);
        Assert.Equal(0, dam.Queued);
        sink.AssertEachDeliveredOnceInOrder();
    }

    [Fact]
    public void Four_threads_against_a_busy_drainer_keep_per_device_order_and_lose_nothing()
    {
        var clock = new ManualTimeProvider();
        var sink = new OrderCheckingSink();
        using var dam = new Dam(DamTesting.Options(rate: 100_000, burst: 500, maxMessages: Threads * PerThread, maxBytes: 16 << 20), sink, clock);
        using var stop = new CancellationTokenSource();
        var drainer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                dam.DrainOnce();
            }
        });
        drainer.Start();

        RunOfferers(dam, clock, advanceEvery: 64);
        stop.Cancel();
        drainer.Join();

        Assert.True(dam.DrainAll(TimeSpan.FromSeconds(10)));
        Assert.True(dam.Queued > 0, "the scenario must exercise the queue");
        Assert.Equal(0, dam.Dropped);
        Assert.Equal(Threads * PerThread, dam.Passed);
        DamTesting.AssertBalanced(dam);
        sink.AssertEachDeliveredOnceInOrder();
    }

    /// <summary>Each thread is one device; it offers in batches of 64 sharing a timestamp, like a receive thread.</summary>
    private static void RunOfferers(Dam dam, ManualTimeProvider clock, int advanceEvery)
    {
        using var start = new Barrier(Threads);
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            byte[] id = [(byte)('a' + t)];
            byte[] payload = new byte[60];
            start.SignalAndWait();
            long stamp = clock.GetTimestamp();
            for (uint seq = 0; seq < PerThread; seq++)
            {
                if (seq % 64 == 0)
                {
                    if (advanceEvery > 0 && t == 0)
                    {
                        clock.Advance(TimeSpan.FromMilliseconds(1));
                    }

                    stamp = clock.GetTimestamp();
                }

                BinaryPrimitives.WriteUInt32LittleEndian(payload, seq);
                dam.Offer(new Admitted(id, seq, payload, 0), stamp);
            }
        });
    }

    private sealed class OrderCheckingSink : IDamSink
    {
        private readonly ConcurrentDictionary<byte, List<uint>> _byDevice = new();

        public bool TryDeliver(in Admitted record)
        {
            Assert.Equal(record.Sequence, BinaryPrimitives.ReadUInt32LittleEndian(record.Payload));
            List<uint> list = _byDevice.GetOrAdd(record.DeviceId[0], _ => []);
            lock (list)
            {
                list.Add(record.Sequence);
            }

            return true;
        }

        public void AssertEachDeliveredOnceInOrder()
        {
            Assert.Equal(Threads, _byDevice.Count);
            foreach (List<uint> list in _byDevice.Values)
            {
                Assert.Equal(Enumerable.Range(0, PerThread).Select(i => (uint)i), list);
            }
        }
    }
}
