using Klais.Contracts.Proto;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Control;

/// <summary>
/// The edge's side of the control plane: follows klais.control (<see cref="ControlFollower"/>: replay from the
/// beginning, then follow) into a <see cref="ControlApplier"/>, and reports to klais.reports
/// (<see cref="ReportPublisher"/>): a <see cref="NodeReport"/> every report interval, one <see cref="DeviceReport"/>
/// per active device every device window (busiest first, at most <c>KLAIS_REPORT_MAX_DEVICES</c>), and at once, as an
/// interim report of the window so far, a device that crosses the suspicion rate (with a <see cref="SuspicionVote"/>)
/// or becomes a heavy hitter (<c>KLAIS_HEAVY_HITTER_SHARE</c> of the edge's traffic). Every device report carries the
/// number of distinct source addresses seen and the first few of them. <see cref="StartAsync"/> returns only when the
/// replay is done, so the edge starts receiving with its blocklist and limits rebuilt.
/// </summary>
internal sealed partial class EdgeControl : IDisposable
{
    /// <summary>The longest a stop waits for reports to be acknowledged (and Dispose for the reporter).</summary>
    private static readonly TimeSpan ReportFlushLimit = TimeSpan.FromSeconds(1);

    private readonly EdgeNode _node;
    private readonly ILogger _log;
    private readonly ControlFollower _follower;
    private readonly CancellationTokenSource _stop = new();
    private ReportPublisher? _reports;
    private Confluent.Kafka.IProducer<byte[], byte[]>? _reportProducer;
    private Task? _reporter;
    private long _nodeReports;
    private long _deviceReports;
    private long _votes;
    private long _interimReports;
    private int _activeDevices;

    public EdgeControl(EdgeNode node, DeviceActivity activity, ILogger log)
    {
        _node = node;
        _log = log;
        Activity = activity;
        Applier = new ControlApplier(node.Config, node.Dam, node.Devices, node.Time, log, node.Producer.AdviseLinger,
            policy => activity.Retune(SuspectPackets(policy.SuspectRate, node.Config.DeviceReportWindow), policy.SuspectSources, policy.HeavyHitterShare));
        _follower = new ControlFollower(node.KafkaBootstrap, node.Config.NodeId, Applier.Apply, e => LogFollowerProblem(_log, e));
    }

    /// <summary>The node's control side, or null when <c>KLAIS_CONTROL=off</c> or Kafka is the embedded dev cluster.</summary>
    public static EdgeControl? Create(EdgeNode node, ILoggerFactory loggers)
    {
        if (!node.Config.ControlEnabled || node.EmbeddedCluster is not null)
        {
            return null;
        }

        long suspectPackets = SuspectPackets(node.Config.SuspectRate, node.Config.DeviceReportWindow);
        var activity = new DeviceActivity(Math.Min(1 << 20, Math.Max(1024, 4 * node.Config.ReportMaxDevices)), suspectPackets,
            node.Config.SuspectSources, node.Config.HeavyHitterShare, () => node.Dam.Received);
        return new EdgeControl(node, activity, loggers.CreateLogger<EdgeControl>());
    }

    public ControlApplier Applier { get; }

    /// <summary>Packets in one device window at which a device is suspect: the suspicion rate over the window.</summary>
    private static long SuspectPackets(double suspectRate, TimeSpan window) => (long)Math.Max(1, Math.Ceiling(suspectRate * window.TotalSeconds));

    public DeviceActivity Activity { get; }

    /// <summary>Completes when klais.control has been replayed up to where it was at start.</summary>
    public Task CaughtUp => _follower.CaughtUp;

    /// <summary>The node clock's <see cref="TimeProvider.GetTimestamp"/> when the replay was done; 0 before.</summary>
    public long CaughtUpAt { get; private set; }

    public long NodeReports => Interlocked.Read(ref _nodeReports);

    public long DeviceReports => Interlocked.Read(ref _deviceReports);

    public long Votes => Interlocked.Read(ref _votes);

    /// <summary>Device reports sent before their window ended (suspects and heavy hitters).</summary>
    public long InterimReports => Interlocked.Read(ref _interimReports);

    /// <summary>Records of klais.control skipped (other edges' targets, unknown schema versions).</summary>
    public long Skipped => _follower.Skipped;

    /// <summary>Test hook: replaces the measured Kafka lag in node reports (the PID test injects lag with it).</summary>
    internal Func<long>? LagOverride { get; set; }

    /// <summary>Test hook: replaces the measured CPU fraction in node reports.</summary>
    internal Func<double>? CpuOverride { get; set; }

    /// <summary>
    /// Replays klais.control (up to the start timeout), then starts reporting. <paramref name="cancellationToken"/>
    /// (a stop during start-up) ends the wait with <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _follower.Start();
        bool caughtUp;
        try
        {
            await _follower.CaughtUp.WaitAsync(_node.Config.ControlStartTimeout, cancellationToken).ConfigureAwait(false);
            caughtUp = true;
        }
        catch (TimeoutException)
        {
            caughtUp = false;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is Confluent.Kafka.KafkaException or InvalidOperationException or OperationCanceledException)
        {
            LogFollowerProblem(_log, "klais.control could not be read: " + e.Message);
            caughtUp = false;
        }

        if (!caughtUp)
        {
            // Availability over completeness: in a Kafka outage the edge must still receive and spill. It starts
            // with what it has and says so; the follower goes on and applies the topic when Kafka answers.
            LogStartWithoutReplay(_log, _node.Config.ControlStartTimeout.TotalSeconds);
        }

        CaughtUpAt = caughtUp ? _node.Time.GetTimestamp() : 0;
        LogCaughtUp(_log, _follower.Skipped, Applier.Applied, _node.Devices.ListBlocked().Count, _node.Devices.ListLimits().Count, Applier.AppliedVersion);
        _reporter = Task.Run(() =>
        {
            // The publisher reads klais.reports' partition count from Kafka: off the start path, so an outage only
            // delays reporting, and a stop ends the wait (_stop).
            try
            {
                // Reports have a client of their own: the telemetry producer is librdkafka without Confluent's
                // managed layer (no Handle to share). Reports that cannot be delivered during an outage are counted
                // failed when their message timeout passes, and the next interval sends fresh ones.
                _reportProducer = ReportPublisher.BuildProducer(_node.KafkaBootstrap, _node.Config.NodeId);
                _reports = new ReportPublisher(_reportProducer, _node.Config.NodeId, cancellationToken: _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return Task.CompletedTask;
            }
            catch (Exception e) when (e is TimeoutException or Confluent.Kafka.KafkaException)
            {
                LogReporterFailed(_log, e.Message);
                return Task.CompletedTask;
            }

            return ReportLoopAsync(_stop.Token);
        }, CancellationToken.None); // the reporter ends with _stop, not with the start
    }

    /// <summary>
    /// Stops following klais.control and reporting within <paramref name="timeout"/>: the follower's thread and the
    /// reporter notice within half a second even while Kafka is unreachable. Reports still in librdkafka get a
    /// last flush (at most a second) only while the circuit is closed: in an outage they are not worth the wait.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        long start = _node.Time.GetTimestamp();
        TimeSpan Left() => TimeSpan.FromTicks(Math.Max(0, timeout.Ticks - _node.Time.GetElapsedTime(start).Ticks));

        await _stop.CancelAsync().ConfigureAwait(false);
        _follower.Stop(Left());
        if (_reporter is not null)
        {
            try
            {
                await _reporter.WaitAsync(Left()).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogStopIncomplete(_log, timeout.TotalSeconds);
                return;
            }
        }

        if (_node.Circuit.State == Polly.CircuitBreaker.CircuitState.Closed)
        {
            _reports?.Flush(Left() < ReportFlushLimit ? Left() : ReportFlushLimit);
        }
    }

    /// <summary>
    /// Node reports every report interval, device windows every device window, urgent device reports in between, all
    /// scheduled on the node's <see cref="TimeProvider"/> (so a test clock drives them).
    /// </summary>
    private async Task ReportLoopAsync(CancellationToken stop)
    {
        TimeProvider time = _node.Time;
        TimeSpan window = _node.Config.DeviceReportWindow;
        long start = time.GetTimestamp();
        long nextNode = start + Ticks(time, Applier.Policy.ReportInterval); // the first report covers one interval
        long nextWindow = start + Ticks(time, window);
        long windowStartMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var rates = new RateSampler(_node);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long now = time.GetTimestamp();
                if (now >= nextWindow)
                {
                    long endMs = time.GetUtcNow().ToUnixTimeMilliseconds();
                    PublishWindow(windowStartMs, (int)(endMs - windowStartMs));
                    windowStartMs = endMs;
                    nextWindow = now + Ticks(time, window);
                }

                if (now >= nextNode)
                {
                    PublishNode(rates);
                    nextNode = now + Ticks(time, Applier.Policy.ReportInterval); // a policy may change it
                }

                long wake = Math.Min(nextNode, nextWindow) - time.GetTimestamp();
                if (wake > 0 && await WaitForSuspectAsync(time, TimeSpan.FromSeconds(wake / (double)time.TimestampFrequency), stop).ConfigureAwait(false))
                {
                    PublishUrgent(windowStartMs);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is Confluent.Kafka.KafkaException or InvalidOperationException)
        {
            LogReporterFailed(_log, e.Message);
        }
    }

    private static long Ticks(TimeProvider time, TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    /// <summary>
    /// Waits until a device turns suspect (true) or <paramref name="timeout"/> passes on <paramref name="time"/>'s
    /// clock (false). <see cref="SemaphoreSlim.WaitAsync(TimeSpan, CancellationToken)"/> would time out on the system
    /// clock; a timeout token from the provider keeps the whole schedule on one clock.
    /// </summary>
    private async Task<bool> WaitForSuspectAsync(TimeProvider time, TimeSpan timeout, CancellationToken stop)
    {
        using var timedOut = new CancellationTokenSource(timeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timedOut.Token);
        try
        {
            await Activity.SuspectSignal.WaitAsync(either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    private void PublishUrgent(long windowStartMs)
    {
        int windowMs = (int)Math.Max(1, _node.Time.GetUtcNow().ToUnixTimeMilliseconds() - windowStartMs);
        foreach (DeviceWindow device in Activity.TakeUrgent())
        {
            Publish(device, windowStartMs, windowMs, interim: true);
        }
    }

    private void PublishWindow(long windowStartMs, int windowMs)
    {
        (List<DeviceWindow> devices, _, _) = Activity.EndWindow();
        Volatile.Write(ref _activeDevices, devices.Count);
        int max = _node.Config.ReportMaxDevices;
        for (int i = 0; i < devices.Count && i < max; i++)
        {
            Publish(devices[i], windowStartMs, Math.Max(1, windowMs), interim: false);
        }
    }

    private void Publish(DeviceWindow device, long windowStartMs, int windowMs, bool interim)
    {
        double rate = device.Packets * 1000.0 / windowMs;
        var report = new DeviceReport
        {
            DeviceId = device.DeviceId,
            WindowStartUnixMs = windowStartMs,
            WindowMs = windowMs,
            Packets = (ulong)device.Packets,
            Bytes = (ulong)device.Bytes,
            Duplicates = (ulong)device.Duplicates,
            Gaps = (ulong)device.Gaps,
            DistinctSources = (uint)device.Sources,
            Interim = interim,
        };
        report.SourceAddresses.AddRange(device.SourceSamples ?? []);
        if (device.Suspect)
        {
            // Suspect by its rate, or by the number of addresses one id arrives from (spoofed or cloned ids).
            report.Vote = device.Sources >= _node.Config.SuspectSources
                ? new SuspicionVote { Reason = "sources", Score = device.Sources / (double)_node.Config.SuspectSources }
                : new SuspicionVote { Reason = "rate", Score = rate / _node.Config.SuspectRate };
            Interlocked.Increment(ref _votes);
        }

        _reports!.PublishDevice(report);
        Interlocked.Increment(ref _deviceReports);
        if (interim)
        {
            Interlocked.Increment(ref _interimReports);
        }
    }

    private void PublishNode(RateSampler rates)
    {
        (double received, double passed, double dropped, double cpu) = rates.Sample();
        _reports!.PublishNode(new NodeReport
        {
            NodeId = _node.Config.NodeId,
            ReceivedPerSecond = received,
            PassedPerSecond = passed,
            DroppedPerSecond = dropped,
            KafkaLag = LagOverride?.Invoke() ?? KafkaLag,
            Cpu = CpuOverride?.Invoke() ?? cpu,
            DegradationLevel = _node.Degradation.Level,
            BaseRate = Applier.Policy.DamMaxRate,
            CurrentRate = _node.Dam.CurrentRate,
            AppliedControlVersion = Applier.AppliedVersion,
            AppliedPolicyVersion = Applier.PolicyVersion,
            RejectedPolicyVersion = Applier.RejectedPolicyVersion,
            PolicyRejection = Applier.PolicyRejection,
            ActiveDevices = Volatile.Read(ref _activeDevices),
        });
        Interlocked.Increment(ref _nodeReports);
    }

    /// <summary>Records handed to librdkafka and not yet acknowledged, plus the Dam's queue.</summary>
    public long KafkaLag => _node.Producer.InFlight + _node.Dam.QueueDepth;

    public void Dispose()
    {
        _stop.Cancel();
        _reporter?.Wait(ReportFlushLimit);
        _follower.Dispose();
        _reports?.Dispose();
        _reportProducer?.Dispose();
        Activity.Dispose();
        _stop.Dispose();
    }

    /// <summary>Per-second rates between two node reports, and the process's CPU share of the machine.</summary>
    private sealed class RateSampler(EdgeNode node)
    {
        private long _at = node.Time.GetTimestamp();
        private long _received = node.Dam.Received;
        private long _passed = node.Dam.Passed;
        private long _dropped = node.Dam.Dropped;
        private TimeSpan _cpu = ProcessCpu();

        public (double Received, double Passed, double Dropped, double Cpu) Sample()
        {
            long at = node.Time.GetTimestamp();
            double seconds = Math.Max(1e-3, node.Time.GetElapsedTime(_at, at).TotalSeconds);
            long received = node.Dam.Received, passed = node.Dam.Passed, dropped = node.Dam.Dropped;
            TimeSpan cpu = ProcessCpu();

            var result = ((received - _received) / seconds, (passed - _passed) / seconds, (dropped - _dropped) / seconds,
                Math.Clamp((cpu - _cpu).TotalSeconds / seconds / Environment.ProcessorCount, 0, 1));
            (_at, _received, _passed, _dropped, _cpu) = (at, received, passed, dropped, cpu);
            return result;
        }

        // Environment.CpuUsage, not Process.TotalProcessorTime: no Process object and /proc parsing every interval,
        // and System.Diagnostics.Process (with System.ComponentModel.Primitives) is never loaded: 0.5 MB of an idle edge's RSS.
        private static TimeSpan ProcessCpu() => Environment.CpuUsage.TotalTime;
    }

    [LoggerMessage(EventId = EventIds.ControlCaughtUp, Level = LogLevel.Information,
        Message = "klais.control replayed ({Skipped} records for other edges skipped, {Applied} applied): {Blocked} blocked devices, {Limits} device limits, control version {Version}")]
    private static partial void LogCaughtUp(ILogger logger, long skipped, long applied, int blocked, int limits, long version);

    [LoggerMessage(EventId = EventIds.ControlStartedWithoutReplay, Level = LogLevel.Warning,
        Message = "klais.control was not replayed within {Seconds} s (KLAIS_CONTROL_START_TIMEOUT_MS): receiving starts without the control plane's blocklist and limits; they are applied when Kafka answers")]
    private static partial void LogStartWithoutReplay(ILogger logger, double seconds);

    [LoggerMessage(EventId = EventIds.ControlStopIncomplete, Level = LogLevel.Warning,
        Message = "Reporting did not stop within {Seconds} s; the edge stops without waiting for it")]
    private static partial void LogStopIncomplete(ILogger logger, double seconds);

    [LoggerMessage(EventId = EventIds.ControlFollowerProblem, Level = LogLevel.Warning, Message = "Control follower: {Problem}")]
    private static partial void LogFollowerProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = EventIds.ReporterFailed, Level = LogLevel.Error, Message = "Reporting to klais.reports stopped: {Problem}")]
    private static partial void LogReporterFailed(ILogger logger, string problem);
}
