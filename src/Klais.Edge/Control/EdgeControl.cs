using Klais.Contracts.Proto;
using Klais.Edge.Configuration;
using Klais.Edge.Delivery;
using Klais.Edge.Devices;
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

    private readonly EdgeConfig _config;
    private readonly string _bootstrap;
    private readonly DevicePolicy _devices;
    private readonly Dam.Dam _dam;
    private readonly KafkaCircuit _circuit;
    private readonly Func<long> _kafkaInFlight;
    private readonly EdgeHealth _health;
    private readonly TimeProvider _time;
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

    /// <param name="config">Validated settings: report intervals, thresholds, the node id, the start timeout.</param>
    /// <param name="bootstrap">The Kafka of klais.control and klais.reports.</param>
    /// <param name="applier">Applies klais.control (built by <see cref="NewApplier"/>).</param>
    /// <param name="activity">Per-device counts the pipeline records (built by <see cref="NewActivity"/>).</param>
    /// <param name="devices">Blocklist and limits, counted when the replay is done.</param>
    /// <param name="dam">Rates and the queue depth for node reports.</param>
    /// <param name="circuit">Whether reports get a last flush at the stop (only while Kafka answers).</param>
    /// <param name="kafkaInFlight">Records handed to librdkafka and not yet acknowledged (the producer's count).</param>
    /// <param name="health">The degradation level node reports carry.</param>
    /// <param name="time">The clock reports are scheduled on.</param>
    /// <param name="log">Where the control side logs.</param>
    public EdgeControl(EdgeConfig config, string bootstrap, ControlApplier applier, DeviceActivity activity, DevicePolicy devices, Dam.Dam dam,
        KafkaCircuit circuit, Func<long> kafkaInFlight, EdgeHealth health, TimeProvider time, ILogger log)
    {
        _config = config;
        _bootstrap = bootstrap;
        _devices = devices;
        _dam = dam;
        _circuit = circuit;
        _kafkaInFlight = kafkaInFlight;
        _health = health;
        _time = time;
        _log = log;
        Applier = applier;
        Activity = activity;
        _follower = new ControlFollower(bootstrap, config.NodeId, Applier.Apply, e => LogFollowerProblem(_log, e));
    }

    /// <summary>Whether the edge has a control side: <c>KLAIS_CONTROL</c> on and a Kafka of its own (not the embedded dev cluster).</summary>
    public static bool IsEnabled(EdgeConfig config) => config.ControlEnabled && !config.EmbeddedKafka;

    /// <summary>The per-device counts the pipeline records and reports are made of; heavy hitters are judged against the Dam's admitted count.</summary>
    public static DeviceActivity NewActivity(EdgeConfig config, Dam.Dam dam) =>
        new(Math.Min(1 << 20, Math.Max(1024, 4 * config.ReportMaxDevices)), SuspectPackets(config.SuspectRate, config.DeviceReportWindow),
            config.SuspectSources, config.HeavyHitterShare, () => dam.Received);

    /// <summary>
    /// The applier of klais.control: rates and queue scale to the Dam, blocks and limits to the device policy, linger
    /// advice to the producer (<paramref name="adviseLinger"/>), a fleet policy's thresholds to <paramref name="activity"/>.
    /// </summary>
    public static ControlApplier NewApplier(EdgeConfig config, Dam.Dam dam, DevicePolicy devices, DeviceActivity activity, Action<int> adviseLinger,
        TimeProvider time, ILogger log) =>
        new(config, dam, devices, time, log, adviseLinger,
            policy => activity.Retune(SuspectPackets(policy.SuspectRate, config.DeviceReportWindow), policy.SuspectSources, policy.HeavyHitterShare));

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
            await _follower.CaughtUp.WaitAsync(_config.ControlStartTimeout, cancellationToken).ConfigureAwait(false);
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
            LogStartWithoutReplay(_log, _config.ControlStartTimeout.TotalSeconds);
        }

        CaughtUpAt = caughtUp ? _time.GetTimestamp() : 0;
        LogCaughtUp(_log, _follower.Skipped, Applier.Applied, _devices.ListBlocked().Count, _devices.ListLimits().Count, Applier.AppliedVersion);
        _reporter = Task.Run(() =>
        {
            // The publisher reads klais.reports' partition count from Kafka: off the start path, so an outage only
            // delays reporting, and a stop ends the wait (_stop).
            try
            {
                // Reports have a client of their own: the telemetry producer is librdkafka without Confluent's
                // managed layer (no Handle to share). Reports that cannot be delivered during an outage are counted
                // failed when their message timeout passes, and the next interval sends fresh ones.
                _reportProducer = ReportPublisher.BuildProducer(_bootstrap, _config.NodeId);
                _reports = new ReportPublisher(_reportProducer, _config.NodeId, cancellationToken: _stop.Token);
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
        long start = _time.GetTimestamp();
        TimeSpan Left() => TimeSpan.FromTicks(Math.Max(0, timeout.Ticks - _time.GetElapsedTime(start).Ticks));

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

        if (_circuit.State == Polly.CircuitBreaker.CircuitState.Closed)
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
        TimeProvider time = _time;
        TimeSpan window = _config.DeviceReportWindow;
        long start = time.GetTimestamp();
        long nextNode = start + Ticks(time, Applier.Policy.ReportInterval); // the first report covers one interval
        long nextWindow = start + Ticks(time, window);
        long windowStartMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var rates = new RateSampler(_dam, _time);
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
        int windowMs = (int)Math.Max(1, _time.GetUtcNow().ToUnixTimeMilliseconds() - windowStartMs);
        foreach (DeviceWindow device in Activity.TakeUrgent())
        {
            Publish(device, windowStartMs, windowMs, interim: true);
        }
    }

    private void PublishWindow(long windowStartMs, int windowMs)
    {
        (List<DeviceWindow> devices, _, _) = Activity.EndWindow();
        Volatile.Write(ref _activeDevices, devices.Count);
        int max = _config.ReportMaxDevices;
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
            report.Vote = device.Sources >= _config.SuspectSources
                ? new SuspicionVote { Reason = "sources", Score = device.Sources / (double)_config.SuspectSources }
                : new SuspicionVote { Reason = "rate", Score = rate / _config.SuspectRate };
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
            NodeId = _config.NodeId,
            ReceivedPerSecond = received,
            PassedPerSecond = passed,
            DroppedPerSecond = dropped,
            KafkaLag = LagOverride?.Invoke() ?? KafkaLag,
            Cpu = CpuOverride?.Invoke() ?? cpu,
            DegradationLevel = _health.Degradation.Level,
            BaseRate = Applier.Policy.DamMaxRate,
            CurrentRate = _dam.CurrentRate,
            AppliedControlVersion = Applier.AppliedVersion,
            AppliedPolicyVersion = Applier.PolicyVersion,
            RejectedPolicyVersion = Applier.RejectedPolicyVersion,
            PolicyRejection = Applier.PolicyRejection,
            ActiveDevices = Volatile.Read(ref _activeDevices),
        });
        Interlocked.Increment(ref _nodeReports);
    }

    /// <summary>Records handed to librdkafka and not yet acknowledged, plus the Dam's queue.</summary>
    public long KafkaLag => _kafkaInFlight() + _dam.QueueDepth;

    public void Dispose()
    {
        _stop.Cancel();
        _reporter?.Wait(ReportFlushLimit);
        _follower.Dispose();
        _reports?.Dispose();
        _reportProducer?.Dispose();
        _stop.Dispose();
    }

    /// <summary>Per-second rates between two node reports, and the process's CPU share of the machine.</summary>
    private sealed class RateSampler(Dam.Dam dam, TimeProvider time)
    {
        private long _at = time.GetTimestamp();
        private long _received = dam.Received;
        private long _passed = dam.Passed;
        private long _dropped = dam.Dropped;
        private TimeSpan _cpu = ProcessCpu();

        public (double Received, double Passed, double Dropped, double Cpu) Sample()
        {
            long at = time.GetTimestamp();
            double seconds = Math.Max(1e-3, time.GetElapsedTime(_at, at).TotalSeconds);
            long received = dam.Received, passed = dam.Passed, dropped = dam.Dropped;
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
