using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Klais.Net;

namespace Klais.Edge.Receive;

/// <summary>
/// Receives datagrams on dedicated threads, one SO_REUSEPORT socket each, with batched recvmmsg, and hands every
/// datagram to an <see cref="IDatagramHandler"/>. Nothing is allocated per datagram.
/// </summary>
/// <remarks>
/// With a handoff (<see cref="ReceiveOptions.HandoffBatches"/> above 0; off by default) each socket has two threads: the
/// receive thread (<c>klais-udp-rx-N</c>) only calls recvmmsg, into one of a few batches in turn, and hands each
/// filled batch to the socket's handler thread (<c>klais-udp-hd-N</c>), which runs the handler over it in the order
/// received and hands the batch back. The kernel's copy and our own per-datagram work then run on two cores, as
/// rsyslog's imudp and its action queue do. When the handler falls behind by every batch, the receive thread waits
/// and the socket's buffer holds (or drops, counted) what arrives: no queue of our own grows. Without a handoff the
/// receive thread runs the handler itself.
/// </remarks>
/// <remarks>
/// Counters are written by their own thread only and summed on read: a reader may see a batch late, never torn
/// (64-bit reads and writes are atomic on the 64-bit platforms we run on).
/// </remarks>
internal sealed class UdpReceiver : IDisposable
{
    private IDatagramHandler? _handler;
    private readonly Worker[] _workers;
    private readonly int _warmupDatagrams;
    private readonly long[] _inodes = [];
    private volatile bool _stopping;
    private int _started;

    /// <summary>
    /// Binds the sockets at once: from here the kernel queues what arrives (up to each socket's receive buffer, and
    /// counts what overflows it) until <see cref="Start()"/>. Without <paramref name="handler"/>, pass it to
    /// <see cref="Start(IDatagramHandler)"/>: an edge binds before it builds the rest of its pipeline.
    /// </summary>
    public UdpReceiver(ReceiveOptions options, IDatagramHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        }

        _handler = handler;
        _warmupDatagrams = options.WarmupDatagrams;
        var socketOptions = new UdpSocketOptions
        {
            ReusePort = true,
            ReceiveBufferBytes = options.ReceiveBufferBytes,
            ReceiveTimeout = options.PollInterval,
            // No SO_RXQ_OVFL: it makes the kernel attach a control message to every datagram (about 6 % of the receive
            // thread's time in the profile), and the socket's own drop count (SocketDrops) is read per request instead.
            ReportKernelDrops = false,
        };

        _workers = new Worker[options.Threads];
        try
        {
            // Port 0: the first bind picks the port, the others join it.
            IPEndPoint endpoint = options.Endpoint;
            for (int i = 0; i < _workers.Length; i++)
            {
                _workers[i] = new Worker(this, i, UdpSocket.Bind(endpoint, socketOptions), options);
                if (i == 0)
                {
                    endpoint = _workers[0].Socket.LocalEndPoint;
                }
            }

            LocalEndPoint = endpoint;
            _inodes = [.. _workers.Select(w => SocketDrops.InodeOf(w.Socket))];
            ActualReceiveBufferBytes = _workers[0].Socket.ActualReceiveBufferBytes;
        }
        catch
        {
            foreach (Worker? worker in _workers)
            {
                worker?.Dispose();
            }

            throw;
        }
    }

    /// <summary>The bound endpoint, with the port the kernel picked when bound to port 0.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>SO_RCVBUF read back from the first socket (the kernel reports twice the request).</summary>
    public int ActualReceiveBufferBytes { get; }

    public int Threads => _workers.Length;

    public long Datagrams => Sum(static w => Volatile.Read(ref w.Datagrams));

    /// <summary>
    /// Datagrams the receive threads took from the kernel; above <see cref="Datagrams"/> (handled) by what waits in
    /// filled batches for a handler thread. Equal to it once <see cref="Stop"/> has returned true.
    /// </summary>
    public long Taken => Sum(static w => Volatile.Read(ref w.Taken));

    public long Batches => Sum(static w => Volatile.Read(ref w.Batches));

    public long Bytes => Sum(static w => Volatile.Read(ref w.Bytes));

    /// <summary>Datagrams longer than <see cref="ReceiveOptions.MaxDatagramBytes"/>, cut by the kernel.</summary>
    public long Truncated => Sum(static w => Volatile.Read(ref w.Truncated));

    /// <summary>
    /// Datagrams the kernel dropped at the sockets (receive queue full), summed over sockets: each socket's current
    /// count from <see cref="SocketDrops"/>, read per call, so that drops while nobody reads (start-up, a stall) count
    /// at once; 0 when the table cannot be read.
    /// </summary>
    public long KernelDrops
    {
        get
        {
            Span<long> drops = stackalloc long[_workers.Length];
            drops.Clear();
            SocketDrops.TryRead(_inodes, drops);
            long sum = 0;
            foreach (long d in drops)
            {
                sum += d;
            }

            return sum;
        }
    }

    /// <summary>Exceptions thrown by the handler; the datagram's batch continues with the next one.</summary>
    public long HandlerFaults => Sum(static w => Volatile.Read(ref w.HandlerFaults));

    /// <summary>Bytes allocated on the receive threads since each finished its warm-up; 0 is the budget.</summary>
    public long AllocatedBytesSinceWarmup => Sum(static w => Volatile.Read(ref w.AllocatedSinceWarmup) + Volatile.Read(ref w.ReceiverAllocatedSinceWarmup));

    /// <summary>Receive threads that have finished their warm-up, so that <see cref="AllocatedBytesSinceWarmup"/> covers them.</summary>
    public int WarmedUpThreads => (int)Sum(static w => Volatile.Read(ref w.WarmedUp) ? 1 : 0);

    /// <summary>The first socket error that ended a receive thread, if any.</summary>
    public Exception? Fault { get; private set; }

    /// <summary>True once the receive threads were started.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>Starts receiving into <paramref name="handler"/> (for a receiver built without one).</summary>
    public void Start(IDatagramHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _handler = handler;
        Start();
    }

    public void Start()
    {
        if (_handler is null)
        {
            throw new InvalidOperationException("The receiver has no handler: pass one to Start.");
        }

        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The receiver was already started.");
        }

        foreach (Worker worker in _workers)
        {
            worker.Thread.Start();
            worker.HandlerThread?.Start();
        }
    }

    /// <summary>
    /// Stops receiving and waits for the threads to end: each notices within one poll interval, and a handler thread
    /// first handles every batch its receive thread had filled. Returns false when some thread did not end within
    /// <paramref name="timeout"/> (default 5 s).
    /// </summary>
    public bool Stop(TimeSpan? timeout = null)
    {
        _stopping = true;
        if (Volatile.Read(ref _started) == 0)
        {
            return true;
        }

        long deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(5)).TotalSeconds * Stopwatch.Frequency);
        bool allEnded = true;
        foreach (Worker worker in _workers)
        {
            allEnded &= Join(worker.Thread, deadline);
            if (worker.HandlerThread is { } handler)
            {
                allEnded &= Join(handler, deadline);
            }
        }

        return allEnded;
    }

    public void Dispose()
    {
        bool ended = Stop();
        foreach (Worker worker in _workers)
        {
            // A thread still inside recvmmsg or the handler keeps its buffers: freeing them under it would be worse
            // than the leak.
            if (ended || (!worker.Thread.IsAlive && worker.HandlerThread?.IsAlive != true))
            {
                worker.Dispose();
            }
        }
    }

    private static bool Join(Thread thread, long deadline)
    {
        long remaining = Math.Max(0, deadline - Stopwatch.GetTimestamp());
        return thread.Join(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
    }

    private long Sum(Func<Worker, long> read)
    {
        long total = 0;
        foreach (Worker worker in _workers)
        {
            total += read(worker);
        }

        return total;
    }

    private sealed class Worker : IDisposable
    {
        // Written by the receive thread (with a handoff: the handler's warm-up starts its count).
        public long Taken;
        public long ReceiverAllocatedSinceWarmup;

        // Written by the thread that runs the handler (the handler thread, or the receive thread without a handoff).
        public long Datagrams;
        public long Batches;
        public long Bytes;
        public long Truncated;
        public long HandlerFaults;
        public long AllocatedSinceWarmup;
        public bool WarmedUp;

        private readonly UdpReceiver _owner;
        private readonly ReceiveBatch[] _batches;
        private readonly int[] _counts;
        private readonly long[] _timestamps;
        private readonly SemaphoreSlim? _filled;
        private readonly SemaphoreSlim? _free;
        private readonly int _pollMs;
        private long _allocationBaseline = -1;
        private volatile bool _receiverEnded;

        public Worker(UdpReceiver owner, int index, UdpSocket socket, ReceiveOptions options)
        {
            _owner = owner;
            Socket = socket;
            _pollMs = (int)options.PollInterval.TotalMilliseconds;
            int handoff = options.HandoffBatches;
            _batches = new ReceiveBatch[Math.Max(1, handoff)];
            _counts = new int[_batches.Length];
            _timestamps = new long[_batches.Length];
            for (int i = 0; i < _batches.Length; i++)
            {
                _batches[i] = new ReceiveBatch(options.BatchSize, options.MaxDatagramBytes);
            }

            if (handoff == 0)
            {
                Thread = new Thread(RunInline) { IsBackground = true, Name = $"klais-udp-rx-{index}" };
                return;
            }

            _filled = new SemaphoreSlim(0, handoff);
            _free = new SemaphoreSlim(handoff, handoff);
            Thread = new Thread(RunReceiver) { IsBackground = true, Name = $"klais-udp-rx-{index}" };
            HandlerThread = new Thread(RunHandler) { IsBackground = true, Name = $"klais-udp-hd-{index}" };
        }

        public UdpSocket Socket { get; }

        /// <summary>The thread in recvmmsg (and, without a handoff, the handler's too).</summary>
        public Thread Thread { get; }

        /// <summary>The thread that runs the handler over filled batches; null without a handoff.</summary>
        public Thread? HandlerThread { get; }

        public void Dispose()
        {
            Socket.Dispose();
            foreach (ReceiveBatch? batch in _batches)
            {
                batch?.Dispose();
            }

            _filled?.Dispose();
            _free?.Dispose();
        }

        // The loops never return, so they would be compiled by on-stack replacement mid-run, and that transition
        // allocates once (32 bytes, seen after ~9,000 datagrams; gone with DOTNET_TC_OnStackReplacement=0).
        // Fully optimised from the start instead; the per-batch work below still tiers up.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunInline()
        {
            ReceiveBatch batch = _batches[0];
            try
            {
                while (!_owner._stopping)
                {
                    int count = batch.Receive(Socket);
                    if (count > 0)
                    {
                        Volatile.Write(ref Taken, Taken + count);
                        Dispatch(batch, count, Stopwatch.GetTimestamp());
                    }

                    TrackAllocations();
                }
            }
            catch (SocketOperationException ex)
            {
                _owner.Fault ??= ex;
            }
        }

        /// <summary>
        /// The receive thread with a handoff: takes a free batch (waiting while the handler holds them all: the kernel
        /// queues meanwhile), fills it with one recvmmsg, stamps it and hands it over; the batches go round in order.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunReceiver()
        {
            int next = 0;
            bool holding = false;
            long allocationBaseline = -1;
            try
            {
                while (!_owner._stopping)
                {
                    if (!holding)
                    {
                        if (!_free!.Wait(_pollMs))
                        {
                            continue;
                        }

                        holding = true;
                    }

                    int count = _batches[next].Receive(Socket);
                    if (count > 0)
                    {
                        _timestamps[next] = Stopwatch.GetTimestamp();
                        _counts[next] = count;
                        Volatile.Write(ref Taken, Taken + count);
                        next = (next + 1) % _batches.Length;
                        holding = false;
                        _filled!.Release();
                    }

                    PublishAllocations(Volatile.Read(ref WarmedUp), ref allocationBaseline, ref ReceiverAllocatedSinceWarmup);
                }
            }
            catch (SocketOperationException ex)
            {
                _owner.Fault ??= ex;
            }
            finally
            {
                // After the last hand-over: the handler reads this, then finds nothing more to take, and ends.
                _receiverEnded = true;
            }
        }

        /// <summary>
        /// The handler thread: runs the handler over each filled batch in the order received and hands it back; after
        /// the receive thread has ended it handles what is left and ends too, so nothing taken from the kernel is lost.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunHandler()
        {
            int next = 0;
            while (true)
            {
                bool receiverEnded = _receiverEnded;
                if (!_filled!.Wait(receiverEnded ? 0 : _pollMs))
                {
                    if (receiverEnded)
                    {
                        return;
                    }

                    continue;
                }

                Dispatch(_batches[next], _counts[next], _timestamps[next]);
                next = (next + 1) % _batches.Length;
                _free!.Release();
                TrackAllocations();
            }
        }

        /// <summary>The handler's side: warmed up once it has handled the warm-up's datagrams; its allocations since then.</summary>
        private void TrackAllocations()
        {
            if (!WarmedUp && Datagrams >= _owner._warmupDatagrams)
            {
                Volatile.Write(ref WarmedUp, true);
            }

            PublishAllocations(WarmedUp, ref _allocationBaseline, ref AllocatedSinceWarmup);
        }

        /// <summary>
        /// This thread's bytes allocated since it was warmed up, written to <paramref name="allocated"/>; the first call
        /// after <paramref name="warmedUp"/> turns true takes the baseline (<paramref name="baseline"/> is −1 before).
        /// </summary>
        private static void PublishAllocations(bool warmedUp, ref long baseline, ref long allocated)
        {
            if (baseline >= 0)
            {
                Volatile.Write(ref allocated, GC.GetAllocatedBytesForCurrentThread() - baseline);
            }
            else if (warmedUp)
            {
                baseline = GC.GetAllocatedBytesForCurrentThread();
            }
        }

        private void Dispatch(ReceiveBatch batch, int count, long timestamp)
        {
            IDatagramHandler handler = _owner._handler!; // set before the thread started
            long bytes = 0;
            try
            {
                handler.BeginBatch();

                // The whole batch's per-device lookups are started first, so their cache misses overlap.
                for (int i = 0; i < count; i++)
                {
                    handler.Prefetch(batch[i]);
                }
            }
            catch (Exception)
            {
                Volatile.Write(ref HandlerFaults, HandlerFaults + 1);
            }

            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> datagram = batch[i];
                bytes += datagram.Length;
                try
                {
                    handler.Handle(datagram, batch.Source(i), timestamp);
                }
                catch (Exception)
                {
                    // One bad datagram must not stop the socket; the fault is counted.
                    Volatile.Write(ref HandlerFaults, HandlerFaults + 1);
                }
            }

            try
            {
                handler.EndBatch(timestamp);
            }
            catch (Exception)
            {
                Volatile.Write(ref HandlerFaults, HandlerFaults + 1);
            }

            Volatile.Write(ref Datagrams, Datagrams + count);
            Volatile.Write(ref Batches, Batches + 1);
            Volatile.Write(ref Bytes, Bytes + bytes);
            Volatile.Write(ref Truncated, Truncated + batch.TruncatedCount);
        }
    }
}
