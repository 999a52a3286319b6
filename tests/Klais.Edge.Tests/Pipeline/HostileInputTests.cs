using System.Diagnostics;
using Klais.Contracts.Wire;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Tests.Receive;
using Xunit.Abstractions;

namespace Klais.Edge.Tests.Pipeline;

/// <summary>
/// A million random and mutated datagrams through the real socket, receive threads, parser, dedupe and Dam: nothing
/// crashes, nothing grows without bound, nothing allocates per datagram, and every datagram sent ends under exactly
/// one outcome.
/// </summary>
/// <remarks>
/// Alone: the bound on heap growth is read from the whole process's heap, which tests of other classes running at the
/// same time would grow instead (a full parallel run once measured 179 MB here).
/// </remarks>
[Collection(Collection)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    public const string Collection = "hostile-input";

    private const int Total = 1_000_000;

    [Fact]
    public async Task A_million_random_and_mutated_datagrams_are_each_counted_under_exactly_one_outcome()
    {
        var sink = new CountingSink();
        using var dam = new Klais.Edge.Dam.Dam(new DamOptions { MaxRate = 200_000, BurstSize = 20_000, QueueMaxMessages = 10_000, QueueMaxBytes = 1 << 20 }, sink, TimeProvider.System);
        var dedupe = new DedupeTable(new DedupeOptions { MaxDeviceCount = 4096 }, TimeProvider.System);
        var pipeline = new EdgePipeline(dam, maxPayloadBytes: 256, validateJson: true, TimeProvider.System, dedupe);
        var options = new ReceiveOptions
        {
            Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            Threads = 2,
            ReceiveBufferBytes = 16 << 20,
            MaxDatagramBytes = Datagram.HeaderLength + 256 + 1,
            WarmupDatagrams = 20_000,
        };
        using var receiver = new UdpReceiver(options, pipeline);
        using var cts = new CancellationTokenSource();
        Task drainer = dam.RunAsync(cts.Token);
        receiver.Start();
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        var random = new Random(20261121);
        var kinds = new int[4];
        var batch = new List<byte[]>(4096);
        var elapsed = Stopwatch.StartNew();
        for (int sent = 0; sent < Total;)
        {
            batch.Clear();
            for (int i = 0; i < 4096 && sent < Total; i++, sent++)
            {
                batch.Add(NextDatagram(random, kinds));
            }

            Loopback.Send(receiver.LocalEndPoint, batch);

            // Pace to what two shared cores can receive; kernel drops are counted anyway and are an outcome too.
            Assert.True(Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops >= sent - 8192, TimeSpan.FromSeconds(30)));
        }

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops == Total, TimeSpan.FromSeconds(30)),
            $"received {receiver.Datagrams} + dropped by the kernel {receiver.KernelDrops} of {Total}");
        Assert.True(Loopback.WaitFor(() => dam.QueueDepth == 0, TimeSpan.FromSeconds(30)));
        await cts.CancelAsync();
        await drainer;
        receiver.Stop();

        long rejected = 0;
        foreach (Rejection reason in RejectionNames.All)
        {
            rejected += pipeline.Rejections[reason];
        }

        long outcomes = receiver.KernelDrops + rejected + dam.Passed + dam.Dropped + dam.QueueDepth;
        output.WriteLine($"{Total} sent in {elapsed.Elapsed.TotalSeconds:0.0} s (random {kinds[0]}, valid {kinds[1]}, replayed {kinds[2]}, mutated {kinds[3]}): "
            + $"kernel drops {receiver.KernelDrops}, rejected {rejected} ({string.Join(", ", RejectionNames.All.ToArray().Select(r => $"{r.ToWireName()} {pipeline.Rejections[r]}"))}), "
            + $"passed {dam.Passed}, dam dropped {dam.Dropped}; dedupe devices {dedupe.Devices} of {dedupe.Capacity}, evicted {dedupe.EvictedActive + dedupe.EvictedIdle}, gaps {dedupe.Gaps}; "
            + $"receive-thread allocations after warm-up {receiver.AllocatedBytesSinceWarmup} B; heap growth {(GC.GetTotalMemory(true) - heapBefore) / 1024} KiB");

        Assert.Equal(Total, outcomes);
        Assert.Equal(receiver.Datagrams, rejected + dam.Received);
        Assert.Equal(dam.Passed, sink.Count);
        Assert.Equal(0, receiver.HandlerFaults);
        Assert.Null(receiver.Fault);
        Assert.InRange(dedupe.Devices, 1, dedupe.Capacity);
        Assert.True(pipeline.Rejections[Rejection.Duplicate] > 0 && pipeline.Rejections[Rejection.BadMagic] > 0 && dam.Passed > 0);
        Assert.InRange(GC.GetTotalMemory(forceFullCollection: true) - heapBefore, long.MinValue, 16L << 20);

        // Known: Utf8JsonReader reports invalid JSON by throwing, so each invalid_json rejection allocates its
        // JsonException (~900 B). Everything else on the receive threads allocates nothing (next test).
        Assert.InRange(receiver.AllocatedBytesSinceWarmup, 0, pipeline.Rejections[Rejection.InvalidJson] * 2048);
    }

    [Fact]
    public async Task Receive_parse_dedupe_and_dam_allocate_nothing_per_datagram_with_duplicates_and_rejections()
    {
        var sink = new CountingSink();
        using var dam = new Klais.Edge.Dam.Dam(new DamOptions { MaxRate = 1_000_000, BurstSize = 1_000_000 }, sink, TimeProvider.System);
        var dedupe = new DedupeTable(new DedupeOptions { MaxDeviceCount = 4096 }, TimeProvider.System);
        var pipeline = new EdgePipeline(dam, maxPayloadBytes: 256, validateJson: true, TimeProvider.System, dedupe);
        var options = new ReceiveOptions
        {
            Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            Threads = 1,
            MaxDatagramBytes = Datagram.HeaderLength + 256 + 1,
            WarmupDatagrams = 10_000,
        };
        using var receiver = new UdpReceiver(options, pipeline);
        receiver.Start();
        var datagrams = new List<byte[]>();
        for (int i = 0; i < 40_000; i++)
        {
            byte[] valid = Valid(i % 500, (uint)(i / 500), i);
            datagrams.Add(i % 10 == 3 ? valid.AsSpan(0, 10).ToArray() : valid);   // some too short
            if (i % 4 == 0)
            {
                datagrams.Add(valid);                                             // and duplicates
            }
        }

        for (int start = 0; start < datagrams.Count; start += 2000)
        {
            Loopback.Send(receiver.LocalEndPoint, datagrams.GetRange(start, Math.Min(2000, datagrams.Count - start)));
            Assert.True(Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops >= start));
        }

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops == datagrams.Count));
        receiver.Stop();
        await Task.Yield();

        Assert.Equal(1, receiver.WarmedUpThreads);
        Assert.True(pipeline.Rejections[Rejection.Duplicate] > 5000 && pipeline.Rejections[Rejection.TooShort] > 3000);
        Assert.Equal(0, receiver.AllocatedBytesSinceWarmup);
    }

    /// <summary>A quarter each: random bytes, valid datagrams of 10,000 devices, exact replays of earlier ones, and mutated valid ones.</summary>
    private static byte[] NextDatagram(Random random, int[] kinds)
    {
        int kind = random.Next(4);
        kinds[kind]++;
        if (kind == 0)
        {
            byte[] garbage = new byte[random.Next(0, 300)];
            random.NextBytes(garbage);
            if (garbage.Length > 1 && random.Next(2) == 0)
            {
                garbage[0] = 0xAA;   // half of them get past the magic check at least
                garbage[1] = 0x55;
            }

            return garbage;
        }

        int device = random.Next(10_000);
        uint sequence = kind == 2 ? (uint)random.Next(0, 50) : (uint)random.Next(50, int.MaxValue);
        byte[] valid = Valid(device, sequence, random.Next(0, 1000));
        if (kind != 3)
        {
            return valid;
        }

        switch (random.Next(3))
        {
            case 0:
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                {
                    valid[random.Next(valid.Length)] ^= (byte)(1 << random.Next(8));
                }

                return valid;
            case 1:
                return valid.AsSpan(0, random.Next(valid.Length)).ToArray();
            default:
                byte[] longer = new byte[valid.Length + random.Next(1, 300)];
                valid.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(valid.Length));
                return longer;
        }
    }

    private static byte[] Valid(int device, uint sequence, int value)
    {
        byte[] payload = System.Text.Encoding.ASCII.GetBytes($"{{\"v\":{value}}}");
        byte[] datagram = new byte[Datagram.HeaderLength + payload.Length];
        Datagram.Write(datagram, System.Text.Encoding.ASCII.GetBytes($"dev-{device:D5}"), sequence, payload);
        return datagram;
    }

    /// <summary>Counts what the Dam lets through; allocates nothing.</summary>
    private sealed class CountingSink : IDamSink
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public bool TryDeliver(in Admitted record)
        {
            Interlocked.Increment(ref _count);
            return true;
        }
    }
}

[CollectionDefinition(HostileInputTests.Collection, DisableParallelization = true)]
public sealed class HostileInputTestGroup;
