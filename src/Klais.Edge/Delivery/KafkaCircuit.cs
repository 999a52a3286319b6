using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly;

namespace Klais.Edge.Delivery;

/// <summary>One sample of delivery health, the outcome the breaker sees.</summary>
internal enum DeliveryHealth
{
    Healthy,
    Failing,
}

/// <summary>The half-open probe: true when Kafka is reachable again.</summary>
internal delegate bool KafkaProbe(TimeSpan timeout, out string problem);

/// <summary>
/// Circuit breaker around Kafka delivery, on Polly's circuit-breaker state machine (closed → open → half-open →
/// closed), driven by a <see cref="TimeProvider"/> so tests move time by hand.
/// </summary>
/// <remarks>
/// <para>Delivery is asynchronous (Produce now, a delivery report later), so one breaker execution is not one
/// record: every <see cref="CircuitOptions.SampleInterval"/> the circuit turns what happened since the last sample
/// into one outcome and executes it through the pipeline. A sample is failing when delivery failures outnumber
/// acknowledgements, when librdkafka has reported all brokers down and nothing was acknowledged since, or when
/// records have been in flight with no acknowledgement for <see cref="CircuitOptions.StallAfter"/>. Idle samples
/// (nothing sent, nothing wrong) are not recorded. Polly opens the circuit when the failing share of the sampled
/// window reaches <see cref="CircuitOptions.FailureRatio"/> with at least <see cref="CircuitOptions.MinimumSamples"/> samples.</para>
/// <para>While open, each sample's execution is refused by Polly until the break has passed; the next one is
/// Polly's half-open trial, and there the circuit runs the real probe (a metadata request through the producer) —
/// success closes the circuit, failure opens it for another break.</para>
/// <para>Cost: one atomic increment per delivery report, ten pipeline executions a second.</para>
/// </remarks>
internal sealed partial class KafkaCircuit
{
    private readonly CircuitOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly KafkaProbe _probe;
    private readonly Func<long> _inFlight;
    private readonly CircuitBreakerStateProvider _state = new();
    // Built on the first sample worth telling the breaker (the first traffic): Polly validates its options with
    // System.ComponentModel.DataAnnotations when a pipeline is built, about 2 MB of code an idle edge need not hold.
    private readonly Lazy<ResiliencePipeline<DeliveryHealth>> _pipeline;
    private long _acks;
    private long _failures;
    private int _allBrokersDown;
    private long _lastProgress;
    private long _samples;
    private long _ticks;
    private long _failingSamples;
    private long _opens;
    private long _probes;
    private long _stateSince;
    private string? _lastProblem;

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050:RequiresDynamicCode",
        Justification = "Polly validates the breaker's options (DataAnnotations, Enum.GetValues(Type)) when the pipeline is built; checked on the NativeAOT edge: it builds the pipeline and the circuit opens when the brokers go away (docs/BENCHMARKS.md, edge memory).")]
    public KafkaCircuit(CircuitOptions options, KafkaProbe probe, Func<long> inFlight, TimeProvider time, ILogger<KafkaCircuit> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsValidation.ThrowIfInvalid(options.Validate(), nameof(options));

        _options = options;
        _probe = probe;
        _inFlight = inFlight;
        _time = time;
        _log = logger;
        _lastProgress = _stateSince = time.GetTimestamp();
        var breaker = new CircuitBreakerStrategyOptions<DeliveryHealth>
        {
            FailureRatio = options.FailureRatio,
            MinimumThroughput = options.MinimumSamples,
            SamplingDuration = options.Window,
            BreakDuration = options.BreakDuration,
            StateProvider = _state,
            ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null || args.Outcome.Result == DeliveryHealth.Failing),
            OnOpened = args =>
            {
                Interlocked.Increment(ref _opens);
                Volatile.Write(ref _stateSince, _time.GetTimestamp());
                LogOpened(_log, args.BreakDuration, LastProblem ?? "delivery failing");
                Opened?.Invoke();
                return ValueTask.CompletedTask;
            },
            OnHalfOpened = _ =>
            {
                Volatile.Write(ref _stateSince, _time.GetTimestamp());
                LogHalfOpened(_log);
                return ValueTask.CompletedTask;
            },
            OnClosed = _ =>
            {
                Volatile.Write(ref _stateSince, _time.GetTimestamp());
                LogClosed(_log);
                Closed?.Invoke();
                return ValueTask.CompletedTask;
            },
        };
        _pipeline = new(() => new ResiliencePipelineBuilder<DeliveryHealth> { TimeProvider = time }.AddCircuitBreaker(breaker).Build());
    }

    /// <summary>Raised (on Polly's callback thread) when the circuit opens.</summary>
    public event Action? Opened;

    /// <summary>Raised when the circuit closes after a successful probe.</summary>
    public event Action? Closed;

    /// <summary>Closed until the pipeline exists: nothing has been sampled yet.</summary>
    public CircuitState State => _pipeline.IsValueCreated ? _state.CircuitState : CircuitState.Closed;

    /// <summary>Timestamp (this circuit's <see cref="TimeProvider"/>) of the last state change.</summary>
    public long StateSince => Volatile.Read(ref _stateSince);

    /// <summary>How long the circuit has been in its present state.</summary>
    public TimeSpan TimeInState => _time.GetElapsedTime(StateSince);

    public long Opens => Interlocked.Read(ref _opens);

    public long Probes => Interlocked.Read(ref _probes);

    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Calls of <see cref="Sample"/>, recorded or idle (tests wait on it after moving the clock).</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    public long FailingSamples => Interlocked.Read(ref _failingSamples);

    public bool AllBrokersDown => Volatile.Read(ref _allBrokersDown) != 0;

    /// <summary>Why the last failing sample or probe failed.</summary>
    public string? LastProblem => Volatile.Read(ref _lastProblem);

    public CircuitOptions Options => _options;

    public void RecordAcknowledged() => Interlocked.Increment(ref _acks);

    /// <summary>A record came back undelivered for a reason of Kafka's (timed out, transport), not a purge of ours.</summary>
    public void RecordFailure(string reason)
    {
        Interlocked.Increment(ref _failures);
        Volatile.Write(ref _lastProblem, reason);
    }

    /// <summary>librdkafka's error callback said every broker connection is down.</summary>
    public void RecordAllBrokersDown(string reason)
    {
        Volatile.Write(ref _allBrokersDown, 1);
        Volatile.Write(ref _lastProblem, reason);
    }

    /// <summary>Samples every <see cref="CircuitOptions.SampleInterval"/> until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_options.SampleInterval, _time, cancellationToken).ConfigureAwait(false);
                Sample();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Turns what happened since the last sample into one breaker execution.</summary>
    internal void Sample()
    {
        try
        {
            SampleCore();
        }
        finally
        {
            Interlocked.Increment(ref _ticks);
        }
    }

    private void SampleCore()
    {
        long now = _time.GetTimestamp();
        long acks = Interlocked.Exchange(ref _acks, 0);
        long failures = Interlocked.Exchange(ref _failures, 0);
        if (acks > 0)
        {
            Volatile.Write(ref _allBrokersDown, 0);
        }

        if (acks > 0 || _inFlight() == 0)
        {
            _lastProgress = now;
        }

        bool stalled = _time.GetElapsedTime(_lastProgress, now) >= _options.StallAfter;
        DeliveryHealth? health = failures > acks || AllBrokersDown || stalled ? DeliveryHealth.Failing
            : acks > 0 ? DeliveryHealth.Healthy
            : null;
        if (stalled)
        {
            Volatile.Write(ref _lastProblem, $"{_inFlight()} records in flight and none acknowledged for {_options.StallAfter.TotalSeconds:0.#} s");
        }

        if (health is null && State == CircuitState.Closed)
        {
            return;   // idle and fine: nothing to tell the breaker
        }

        Interlocked.Increment(ref _samples);
        if (health == DeliveryHealth.Failing)
        {
            Interlocked.Increment(ref _failingSamples);
        }

        try
        {
            _pipeline.Value.Execute(static s => s.Circuit.Outcome(s.Health), (Circuit: this, Health: health ?? DeliveryHealth.Healthy));
        }
        catch (BrokenCircuitException)
        {
            // Open and the break has not passed: nothing to do until it has.
        }
    }

    private DeliveryHealth Outcome(DeliveryHealth sampled)
    {
        if (State != CircuitState.HalfOpen)
        {
            return sampled;
        }

        // Polly's half-open trial: ask Kafka itself rather than trusting a sample taken while open.
        Interlocked.Increment(ref _probes);
        bool reachable = _probe(_options.ProbeTimeout, out string problem);
        LogProbe(_log, reachable, problem);
        if (!reachable)
        {
            Volatile.Write(ref _lastProblem, "probe: " + problem);
            return DeliveryHealth.Failing;
        }

        Volatile.Write(ref _allBrokersDown, 0);
        _lastProgress = _time.GetTimestamp();
        return DeliveryHealth.Healthy;
    }

    [LoggerMessage(EventId = EventIds.CircuitOpened, Level = LogLevel.Warning, Message = "Kafka circuit OPEN for {Break}: {Reason}. Admitted records go to the spill")]
    private static partial void LogOpened(ILogger logger, TimeSpan @break, string reason);

    [LoggerMessage(EventId = EventIds.CircuitHalfOpened, Level = LogLevel.Information, Message = "Kafka circuit half-open: probing")]
    private static partial void LogHalfOpened(ILogger logger);

    [LoggerMessage(EventId = EventIds.CircuitClosed, Level = LogLevel.Information, Message = "Kafka circuit closed: Kafka answers again")]
    private static partial void LogClosed(ILogger logger);

    [LoggerMessage(EventId = EventIds.CircuitProbe, Level = LogLevel.Information, Message = "Kafka probe: reachable {Reachable} {Problem}")]
    private static partial void LogProbe(ILogger logger, bool reachable, string problem);
}
