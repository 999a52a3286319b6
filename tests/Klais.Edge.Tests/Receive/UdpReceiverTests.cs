using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Klais.Contracts.Wire;
using Klais.Edge.Receive;
using Klais.Net;

namespace Klais.Edge.Tests.Receive;

public sealed class UdpReceiverTests
{
    private static ReceiveOptions Options(string address, int threads = 1) => new()
    {
        Endpoint = new IPEndPoint(IPAddress.Parse(address), 0),
        Threads = threads,
        ReceiveBufferBytes = 4 * 1024 * 1024,
    };

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Every_datagram_reaches_the_handler_intact_and_exactly_once(string address)
    {
        var handler = new RecordingHandler();
        using var receiver = new UdpReceiver(Options(address), handler);
        receiver.Start();
        List<byte[]> sent = Enumerable.Range(0, 2000).Select(i => Loopback.TestDatagram(i)).ToList();

        Loopback.Send(receiver.LocalEndPoint, sent);

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= sent.Count), $"received {receiver.Datagrams} of {sent.Count}");
        Assert.True(receiver.Stop());
        Assert.Equal(sent.Count, handler.Datagrams.Count);
        Dictionary<uint, byte[]> bySequence = handler.Datagrams.ToDictionary(d => ParseSequence(d));
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.Equal(sent[i], bySequence[(uint)i]);
        }

        Assert.Equal(sent.Sum(d => (long)d.Length), receiver.Bytes);
        Assert.Equal(0, receiver.KernelDrops);
        Assert.Equal(0, receiver.Truncated);
        Assert.True(receiver.Batches <= receiver.Datagrams);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Datagrams_that_overflow_a_bound_socket_before_receiving_starts_are_counted_as_kernel_drops(string address)
    {
        var handler = new RecordingHandler();
        using var receiver = new UdpReceiver(new ReceiveOptions { Endpoint = new IPEndPoint(IPAddress.Parse(address), 0), Threads = 1, ReceiveBufferBytes = 32 * 1024 });
        List<byte[]> sent = Enumerable.Range(0, 3000).Select(i => Loopback.TestDatagram(i)).ToList();

        Loopback.Send(receiver.LocalEndPoint, sent);
        long dropsBeforeStart = receiver.KernelDrops;
        receiver.Start(handler);

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops >= sent.Count), $"received {receiver.Datagrams}, dropped {receiver.KernelDrops} of {sent.Count}");
        Assert.True(receiver.Stop());
        Assert.InRange(dropsBeforeStart, 1, sent.Count - 1);
        Assert.Equal(sent.Count, receiver.Datagrams + receiver.KernelDrops);
        Assert.Equal(receiver.Datagrams, handler.Datagrams.Count);
    }

    [Fact]
    public void A_line_of_the_kernels_udp_table_gives_the_drops_of_the_socket_with_its_inode()
    {
        long[] inodes = [4242, 77];
        long[] drops = [0, 5];
        SocketDrops.Match("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops", inodes, drops);
        SocketDrops.Match("  719: 0100007F:9C41 00000000:0000 07 00000000:00034500 00:00000000 00000000     0        0 4242 2 0000000000000000 2871", inodes, drops);
        SocketDrops.Match("  720: 0100007F:9C42 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 999 2 0000000000000000 13", inodes, drops);

        Assert.Equal([2871L, 5L], drops);
    }

    [Theory]
    [InlineData("127.0.0.1", new[] { "127.0.0.2", "127.0.0.3" })]
    [InlineData("::1", new[] { "::1" })]
    public void Every_datagram_comes_with_its_senders_address_and_port(string address, string[] senders)
    {
        var handler = new RecordingHandler();
        using var receiver = new UdpReceiver(Options(address), handler);
        receiver.Start();
        var expected = new List<IPEndPoint>();
        foreach (string sender in senders)
        {
            using var socket = new System.Net.Sockets.Socket(IPAddress.Parse(sender).AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(sender), 0));
            for (int i = 0; i < 3; i++)
            {
                socket.SendTo(Loopback.TestDatagram(i), receiver.LocalEndPoint);
                expected.Add((IPEndPoint)socket.LocalEndPoint!);
            }
        }

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= expected.Count), $"received {receiver.Datagrams} of {expected.Count}");
        Assert.True(receiver.Stop());
        Assert.Equal(expected.Select(e => e.ToString()), handler.Sources.Select(s => s.ToString()));
        Assert.Equal(senders, handler.Sources.Select(s => s.AddressText()).Distinct());
    }

    [Fact]
    public void Receive_threads_sharing_one_port_together_get_every_datagram()
    {
        var handler = new RecordingHandler();
        using var receiver = new UdpReceiver(Options("127.0.0.1", threads: 3), handler);
        receiver.Start();

        // SO_REUSEPORT spreads by flow: 16 senders (source ports) land on more than one of the 3 sockets
        // (all on one has probability 3·3⁻¹⁶).
        for (int sender = 0; sender < 16; sender++)
        {
            Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(sender * 100, 100).Select(i => Loopback.TestDatagram(i)).ToList());
        }

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 1600), $"received {receiver.Datagrams} of 1600");
        Assert.True(receiver.Stop());
        Assert.Equal(1600, handler.Datagrams.Count);
        Assert.Equal(1600, handler.Datagrams.Select(ParseSequence).Distinct().Count());
        Assert.InRange(handler.ByThread.Count, 2, 3);
        Assert.Equal(3, receiver.Threads);
    }

    [Fact]
    public void Port_zero_gives_every_thread_the_same_free_port()
    {
        using var receiver = new UdpReceiver(Options("127.0.0.1", threads: 2), new RecordingHandler());

        Assert.NotEqual(0, receiver.LocalEndPoint.Port);
        Assert.Equal(IPAddress.Loopback, receiver.LocalEndPoint.Address);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Stop_returns_within_its_bound_and_the_threads_end(int handoff)
    {
        var options = Options("127.0.0.1", threads: 2);
        options.PollInterval = TimeSpan.FromMilliseconds(50);
        options.HandoffBatches = handoff;
        using var receiver = new UdpReceiver(options, new RecordingHandler());
        receiver.Start();
        var watch = Stopwatch.StartNew();

        bool ended = receiver.Stop(TimeSpan.FromSeconds(2));

        Assert.True(ended);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"Stop took {watch.Elapsed}");
    }

    [Fact]
    public void Datagrams_longer_than_the_buffer_are_cut_and_counted_as_truncated()
    {
        var handler = new RecordingHandler();
        var options = Options("127.0.0.1");
        options.MaxDatagramBytes = 128;
        using var receiver = new UdpReceiver(options, handler);
        receiver.Start();
        var datagrams = Enumerable.Range(0, 10).Select(i => Loopback.TestDatagram(i, payloadBytes: 500))
            .Concat(Enumerable.Range(10, 10).Select(i => Loopback.TestDatagram(i, payloadBytes: 60)))
            .ToList();

        Loopback.Send(receiver.LocalEndPoint, datagrams);

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 20));
        Assert.Equal(10, receiver.Truncated);
        Assert.Equal(10, handler.Datagrams.Count(d => d.Length == 128));
        Assert.All(
            handler.Datagrams.Where(d => d.Length == 128),
            d => Assert.Equal(Rejection.InvalidJson, Datagram.TryParse(d, 1024, validateJson: true, out _, out _)));
    }

    [Fact]
    public void Kernel_drops_of_a_flooded_small_buffer_are_counted()
    {
        var handler = new ParsingHandler();
        var options = Options("127.0.0.1");
        options.ReceiveBufferBytes = 4096;
        using var receiver = new UdpReceiver(options, handler);
        const int Flood = 500;
        const int After = 5;

        // Not started: nothing reads, the queue fills and the kernel drops the rest.
        Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(0, Flood).Select(i => Loopback.TestDatagram(i)).ToList());
        receiver.Start();
        Assert.True(Loopback.WaitFor(() => receiver.Datagrams > 0));
        // Datagrams queued after the drops carry the counter.
        Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(Flood, After).Select(i => Loopback.TestDatagram(i)).ToList());

        Assert.True(
            Loopback.WaitFor(() => receiver.Datagrams + receiver.KernelDrops == Flood + After),
            $"received {receiver.Datagrams}, dropped {receiver.KernelDrops}");
        Assert.InRange(receiver.KernelDrops, 1, Flood - 1);
        Assert.True(receiver.ActualReceiveBufferBytes < 64 * 1024);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Receive_threads_allocate_nothing_per_datagram(int handoff)
    {
        var handler = new ParsingHandler();
        var options = Options("127.0.0.1");
        options.WarmupDatagrams = 1000;
        options.HandoffBatches = handoff;
        using var receiver = new UdpReceiver(options, handler);
        receiver.Start();
        byte[][] datagrams = Enumerable.Range(0, 1000).Select(i => Loopback.TestDatagram(i)).ToArray();

        Loopback.Send(receiver.LocalEndPoint, datagrams);
        Assert.True(Loopback.WaitFor(() => receiver.WarmedUpThreads == 1));
        for (int round = 1; round <= 20; round++)
        {
            Loopback.Send(receiver.LocalEndPoint, datagrams);
            Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 1000 * (round + 1)));
        }

        Assert.True(receiver.Stop());
        Assert.Equal(21_000, handler.Count(Rejection.None));
        Assert.Equal(0, receiver.AllocatedBytesSinceWarmup);
    }

    /// <summary>
    /// One socket, one sender: datagrams reach the handler in the order sent, with the handoff (on the socket's handler
    /// thread) and without it (on the receive thread itself).
    /// </summary>
    [Theory]
    [InlineData(0, "klais-udp-rx-0")]
    [InlineData(4, "klais-udp-hd-0")]
    public void With_or_without_a_handoff_one_senders_datagrams_arrive_in_order_on_the_expected_thread(int handoff, string thread)
    {
        var handler = new OrderHandler();
        var options = Options("127.0.0.1");
        options.HandoffBatches = handoff;
        using var receiver = new UdpReceiver(options, handler);
        receiver.Start();

        Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(0, 5000).Select(i => Loopback.TestDatagram(i)).ToList());

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 5000), $"received {receiver.Datagrams} of 5000");
        Assert.True(receiver.Stop());
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => (uint)i), handler.Sequences);
        Assert.Equal([thread], handler.Threads);
        Assert.Equal((5000L, 0L), (receiver.Taken, receiver.KernelDrops));
    }

    /// <summary>
    /// A stop while the handler is behind: the receive thread stops taking from the kernel, and Stop returns only once
    /// the handler thread has handled every batch already taken; nothing taken is dropped.
    /// </summary>
    [Fact]
    public void A_stop_while_the_handler_is_behind_handles_every_batch_already_taken()
    {
        var handler = new OrderHandler { BatchDelay = TimeSpan.FromMilliseconds(30) };
        var options = Options("127.0.0.1");
        options.HandoffBatches = 4;
        options.BatchSize = 8;
        using var receiver = new UdpReceiver(options, handler);
        receiver.Start();
        Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(0, 400).Select(i => Loopback.TestDatagram(i)).ToList());
        Assert.True(Loopback.WaitFor(() => receiver.Taken >= 40), $"taken {receiver.Taken}");
        Assert.True(receiver.Datagrams < receiver.Taken, $"handled {receiver.Datagrams} of {receiver.Taken} taken: the handler is not behind");

        Assert.True(receiver.Stop(TimeSpan.FromSeconds(10)));

        Assert.Equal(receiver.Taken, receiver.Datagrams);
        Assert.Equal(Enumerable.Range(0, (int)receiver.Taken).Select(i => (uint)i), handler.Sequences);
    }

    /// <summary>
    /// Every datagram of a batch is offered to <see cref="IDatagramHandler.Prefetch"/> before the first of them is
    /// handled, in the order they are then handled, with the handoff and without it.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void A_batch_is_prefetched_in_full_before_its_first_datagram_is_handled(int handoff)
    {
        var handler = new CallLogHandler();
        var options = Options("127.0.0.1");
        options.HandoffBatches = handoff;
        options.BatchSize = 16;
        using var receiver = new UdpReceiver(options, handler);
        receiver.Start();

        Loopback.Send(receiver.LocalEndPoint, Enumerable.Range(0, 3000).Select(i => Loopback.TestDatagram(i)).ToList());

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 3000), $"received {receiver.Datagrams} of 3000");
        Assert.True(receiver.Stop());
        List<List<(char Call, uint Sequence)>> batches = handler.Batches();
        Assert.Equal(receiver.Batches, batches.Count);
        foreach (List<(char Call, uint Sequence)> batch in batches)
        {
            uint[] prefetched = batch.TakeWhile(c => c.Call == 'P').Select(c => c.Sequence).ToArray();
            uint[] handled = batch.Skip(prefetched.Length).Select(c => c.Call == 'H' ? c.Sequence : uint.MaxValue).ToArray();
            Assert.InRange(prefetched.Length, 1, 16);
            Assert.Equal(prefetched, handled);
        }

        Assert.Equal(Enumerable.Range(0, 3000).Select(i => (uint)i), batches.SelectMany(b => b.Where(c => c.Call == 'H').Select(c => c.Sequence)));
    }

    [Fact]
    public void Invalid_options_are_all_reported_at_once()
    {
        var options = new ReceiveOptions { Threads = 0, BatchSize = 0, MaxDatagramBytes = 10 };

        var error = Assert.Throws<ArgumentException>(() => new UdpReceiver(options, new RecordingHandler()));

        Assert.Contains("`ReceiveOptions.Threads` is 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("`ReceiveOptions.BatchSize` is 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("`ReceiveOptions.MaxDatagramBytes` is 10", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Records each datagram's sequence and the threads that handled them; optionally slow per batch.</summary>
    private sealed class OrderHandler : IDatagramHandler
    {
        private readonly List<uint> _sequences = [];
        private readonly HashSet<string> _threads = [];

        public TimeSpan BatchDelay { get; init; }

        public uint[] Sequences
        {
            get
            {
                lock (_sequences)
                {
                    return [.. _sequences];
                }
            }
        }

        public string[] Threads
        {
            get
            {
                lock (_sequences)
                {
                    return [.. _threads];
                }
            }
        }

        public void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp)
        {
            Assert.Equal(Rejection.None, Datagram.TryParse(datagram, 1024, validateJson: false, out DatagramHeader header, out _));
            lock (_sequences)
            {
                _sequences.Add(header.Sequence);
                _threads.Add(Thread.CurrentThread.Name ?? "?");
            }
        }

        public void EndBatch(long receivedTimestamp) => Thread.Sleep(BatchDelay);
    }

    /// <summary>Logs each call by one receive thread: 'P' prefetch and 'H' handle with the datagram's sequence; a batch ends at EndBatch.</summary>
    private sealed class CallLogHandler : IDatagramHandler
    {
        private readonly List<List<(char Call, uint Sequence)>> _batches = [];
        private List<(char Call, uint Sequence)> _current = [];

        public List<List<(char Call, uint Sequence)>> Batches()
        {
            lock (_batches)
            {
                return [.. _batches];
            }
        }

        public void Prefetch(ReadOnlySpan<byte> datagram) => Log('P', datagram);

        public void Handle(ReadOnlySpan<byte> datagram, in DatagramSource source, long receivedTimestamp) => Log('H', datagram);

        public void EndBatch(long receivedTimestamp)
        {
            lock (_batches)
            {
                _batches.Add(_current);
                _current = [];
            }
        }

        private void Log(char call, ReadOnlySpan<byte> datagram)
        {
            lock (_batches)
            {
                _current.Add((call, BinaryPrimitives.ReadUInt32BigEndian(datagram[Datagram.SequenceOffset..])));
            }
        }
    }

    private static uint ParseSequence(byte[] datagram)
    {
        Assert.Equal(Rejection.None, Datagram.TryParse(datagram, 1024, validateJson: true, out DatagramHeader header, out _));
        return header.Sequence;
    }
}
