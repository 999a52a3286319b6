using System.Net;
using Klais.Net;

namespace Klais.LoadGen;

/// <summary>
/// Sends datagrams to one target with sendmmsg, paced by a token bucket, in the mix of <see cref="TrafficMix"/>.
/// One thread: <see cref="Run"/> blocks until the count or duration is reached or it is cancelled.
/// Nothing is allocated per datagram (progress reports, once a second, aside).
/// </summary>
internal sealed class LoadGenerator
{
    // Above this wait the loop sleeps (Linux wakes ~1.1 ms later); below it, it yields and spins for precision.
    private static readonly TimeSpan SleepThreshold = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    private readonly LoadGeneratorOptions _options;
    private readonly TimeProvider _time;
    private readonly long[] _sentByKind = new long[Enum.GetValues<DatagramKind>().Length];
    private long _sent;

    public LoadGenerator(LoadGeneratorOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        }

        _options = options;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Datagrams sent so far (readable from any thread while running).</summary>
    public long Sent => Volatile.Read(ref _sent);

    public LoadSummary Run(Action<LoadProgress>? progress = null, CancellationToken cancellation = default)
    {
        var mix = new TrafficMix(_options.BadShare, _options.ReplayShare);
        var factory = new DatagramFactory(_options.Devices, _options.PayloadBytes, _options.StartSequence, _options.FirstDevice - 1);
        var pacing = new PacingSchedule(_options.Rate, _options.Batch, _time);
        var socketOptions = new UdpSocketOptions { SendBufferBytes = 4 * 1024 * 1024, ReportKernelDrops = false };
        IReadOnlyList<IPAddress> sources = _options.SourceAddresses();
        var sockets = new List<UdpSocket>();
        try
        {
            if (sources.Count == 0)
            {
                sockets.Add(UdpSocket.Connect(_options.Target, socketOptions));
            }

            foreach (IPAddress source in sources)
            {
                sockets.Add(UdpSocket.Connect(_options.Target, socketOptions, new IPEndPoint(source, 0)));
            }

            return Run([.. sockets], mix, factory, pacing, progress, cancellation);
        }
        finally
        {
            foreach (UdpSocket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private LoadSummary Run(UdpSocket[] sockets, TrafficMix mix, DatagramFactory factory, PacingSchedule pacing, Action<LoadProgress>? progress,
        CancellationToken cancellation)
    {
        ReconnectStorm? storm = _options.StormDevices > 0
            ? new ReconnectStorm(_options.StormDevices, _options.FirstDevice - 1 + _options.Devices, _options.StormHistory, _options.StartSequence,
                _options.PayloadBytes, _options.StormInterval)
            : null;
        var flush = new FlushProgress();
        using var batch = new SendBatch(_options.Batch, Math.Max(factory.MaxDatagramBytes, storm?.MaxDatagramBytes ?? 0));
        Span<DatagramKind> kinds = stackalloc DatagramKind[_options.Batch];

        long limit = _options.Count ?? long.MaxValue;
        long start = _time.GetTimestamp();
        long lastReport = start;
        long sentAtLastReport = 0;
        long refused = 0;
        long batches = 0;
        long live = 0;
        while (_sent < limit && !cancellation.IsCancellationRequested && !DurationPassed(start))
        {
            // Live traffic first, at its pace; then, once the storm began, as much of the flush as its own pace allows.
            int count = pacing.Take((int)Math.Min(_options.Batch, limit - _sent));
            if (count > 0)
            {
                for (int i = 0; i < count; i++)
                {
                    int length = factory.Write(mix.Next(), batch.GetBuffer(i), out kinds[i]);
                    batch.SetLength(i, length);
                }

                refused += SendAll(sockets[batches++ % sockets.Length], batch, count);
                foreach (DatagramKind kind in kinds[..count])
                {
                    _sentByKind[(int)kind]++;
                }

                live += count;
                Volatile.Write(ref _sent, _sent + count);
            }

            int flushed = storm is null ? 0 : flush.Take(storm, _options, _time, start, live, (int)Math.Min(_options.Batch, limit - _sent));
            if (flushed > 0)
            {
                for (int i = 0; i < flushed; i++)
                {
                    batch.SetLength(i, storm!.Write(batch.GetBuffer(i)));
                }

                refused += SendAll(sockets[batches++ % sockets.Length], batch, flushed);
                _sentByKind[(int)DatagramKind.Valid] += flushed;
                Volatile.Write(ref _sent, _sent + flushed);
                flush.Sent(storm!, _time, live);
            }

            if (count == 0 && flushed == 0)
            {
                Wait(flush.Pacing is { } p && !storm!.Done ? Min(pacing.UntilNextToken(), p.UntilNextToken()) : pacing.UntilNextToken());
                continue;
            }

            if (progress is not null && _time.GetElapsedTime(lastReport) >= ProgressInterval)
            {
                long now = _time.GetTimestamp();
                TimeSpan interval = _time.GetElapsedTime(lastReport, now);
                progress(new LoadProgress(_sent, (_sent - sentAtLastReport) / interval.TotalSeconds, _time.GetElapsedTime(start, now)));
                lastReport = now;
                sentAtLastReport = _sent;
            }
        }

        return new LoadSummary(
            _sent,
            Valid: _sentByKind[(int)DatagramKind.Valid],
            TooShort: _sentByKind[(int)DatagramKind.TooShort],
            BadMagic: _sentByKind[(int)DatagramKind.BadMagic],
            BadDeviceId: _sentByKind[(int)DatagramKind.BadDeviceId],
            InvalidJson: _sentByKind[(int)DatagramKind.InvalidJson],
            Replayed: _sentByKind[(int)DatagramKind.Replay],
            Refused: refused,
            Elapsed: _time.GetElapsedTime(start))
        {
            Storm = storm is null ? null : flush.Summary(storm, _options),
        };
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>The storm's schedule within a run: when it starts, its pace, and what was sent while it flushed.</summary>
    private sealed class FlushProgress
    {
        private long _startTimestamp;
        private long _liveAtStart;
        private TimeSpan _startedAfter;
        private TimeSpan? _sendTime;
        private long _liveDuringSend;

        /// <summary>The flush's pace; null until the storm starts.</summary>
        public PacingSchedule? Pacing { get; private set; }

        /// <summary>Records of the flush that may go now (0 before <see cref="LoadGeneratorOptions.StormAt"/> and after the last).</summary>
        public int Take(ReconnectStorm storm, LoadGeneratorOptions options, TimeProvider time, long runStart, long live, int wanted)
        {
            if (Pacing is null)
            {
                if (time.GetElapsedTime(runStart) < options.StormAt)
                {
                    return 0;
                }

                _startTimestamp = time.GetTimestamp();
                _startedAfter = time.GetElapsedTime(runStart, _startTimestamp);
                _liveAtStart = live;
                storm.Start(time.GetUtcNow().ToUnixTimeMilliseconds());
                Pacing = new PacingSchedule(options.StormRate, options.Batch, time);
            }

            return storm.Done ? 0 : Pacing.Take((int)Math.Min(wanted, storm.Planned - storm.Written));
        }

        /// <summary>After a batch of the flush went out: notes the end of the flush with its last record.</summary>
        public void Sent(ReconnectStorm storm, TimeProvider time, long live)
        {
            if (storm.Done)
            {
                _sendTime = time.GetElapsedTime(_startTimestamp);
                _liveDuringSend = live - _liveAtStart;
            }
        }

        public StormSummary Summary(ReconnectStorm storm, LoadGeneratorOptions options) => new(
            options.StormDevices, options.StormHistory, storm.Planned, storm.Written, storm.FlushStartUnixMs, _startedAfter, _sendTime, _liveDuringSend, _liveAtStart);
    }

    /// <summary>Sends the whole batch, resuming after partial sends; returns how many ECONNREFUSED it met.</summary>
    /// <remarks>
    /// ECONNREFUSED reports an ICMP "port unreachable" for an earlier datagram (nobody listened); the datagrams of this
    /// call were not sent and go again. A target that never listens therefore makes progress one call in two.
    /// </remarks>
    private static long SendAll(UdpSocket socket, SendBatch batch, int count)
    {
        long refused = 0;
        int first = 0;
        while (first < count)
        {
            if (batch.Send(socket, first, count - first, out int sent) == TransferStatus.Refused)
            {
                refused++;
            }

            first += sent;
        }

        return refused;
    }

    private bool DurationPassed(long start) =>
        _options.Duration is { } duration && _time.GetElapsedTime(start) >= duration;

    private static void Wait(TimeSpan untilNextToken)
    {
        if (untilNextToken >= SleepThreshold)
        {
            Thread.Sleep(1);
        }
        else if (!Thread.Yield())
        {
            Thread.SpinWait(32);
        }
    }
}
