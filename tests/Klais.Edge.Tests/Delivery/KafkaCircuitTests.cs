using Klais.Edge.Delivery;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Polly.CircuitBreaker;

namespace Klais.Edge.Tests.Delivery;

/// <summary>The breaker's state machine on a manual clock, with a probe the test controls.</summary>
public sealed class KafkaCircuitTests
{
    private readonly ManualTimeProvider _clock = new();
    private bool _reachable;
    private int _probes;
    private long _inFlight;
    private int _opened;
    private int _closed;

    [Fact]
    public void One_failing_sample_does_not_open_the_circuit_sustained_failure_does()
    {
        KafkaCircuit circuit = Circuit();
        Step(circuit, fail: true);
        Assert.Equal(CircuitState.Closed, circuit.State);
        for (int i = 0; i < 3; i++)
        {
            Step(circuit, ack: true);
        }

        Assert.Equal(CircuitState.Closed, circuit.State);
        for (int i = 0; i < 10 && circuit.State == CircuitState.Closed; i++)
        {
            Step(circuit, fail: true);
        }

        Assert.Equal(CircuitState.Open, circuit.State);
        Assert.Equal(1, circuit.Opens);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _opened) == 1, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void All_brokers_down_with_nothing_in_flight_opens_the_circuit()
    {
        KafkaCircuit circuit = Circuit();
        circuit.RecordAllBrokersDown("Local_AllBrokersDown");
        for (int i = 0; i < 10 && circuit.State == CircuitState.Closed; i++)
        {
            Step(circuit);
        }

        Assert.Equal(CircuitState.Open, circuit.State);
        Assert.Equal("Local_AllBrokersDown", circuit.LastProblem);
    }

    [Fact]
    public void Records_in_flight_without_acknowledgement_past_the_stall_time_count_as_failing()
    {
        KafkaCircuit circuit = Circuit();
        _inFlight = 10;
        for (int i = 0; i < 30 && circuit.State == CircuitState.Closed; i++)
        {
            Step(circuit);
        }

        Assert.Equal(CircuitState.Open, circuit.State);
        Assert.Contains("none acknowledged", circuit.LastProblem, StringComparison.Ordinal);
    }

    [Fact]
    public void Idle_samples_are_not_recorded()
    {
        KafkaCircuit circuit = Circuit();
        for (int i = 0; i < 50; i++)
        {
            Step(circuit);
        }

        Assert.Equal(0, circuit.Samples);
        Assert.Equal(50, circuit.Ticks);
    }

    [Fact]
    public void After_the_break_a_failed_probe_keeps_it_open_and_a_successful_one_closes_it()
    {
        KafkaCircuit circuit = Circuit();
        Open(circuit);

        _clock.Advance(TimeSpan.FromMilliseconds(500));
        circuit.Sample();
        Assert.Equal(0, _probes);                      // still within the break
        _clock.Advance(TimeSpan.FromMilliseconds(600));
        circuit.Sample();
        Assert.Equal(1, _probes);                      // half-open trial: probe failed
        Assert.Equal(CircuitState.Open, circuit.State);

        _reachable = true;
        _clock.Advance(TimeSpan.FromMilliseconds(1100));
        circuit.Sample();
        Assert.Equal(2, _probes);
        Assert.Equal(CircuitState.Closed, circuit.State);
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _closed) == 1, TimeSpan.FromSeconds(5)));
        Assert.False(circuit.AllBrokersDown);
    }

    private void Open(KafkaCircuit circuit)
    {
        for (int i = 0; i < 20 && circuit.State == CircuitState.Closed; i++)
        {
            Step(circuit, fail: true);
        }

        Assert.Equal(CircuitState.Open, circuit.State);
    }

    private void Step(KafkaCircuit circuit, bool fail = false, bool ack = false)
    {
        if (fail)
        {
            circuit.RecordFailure("Local_MsgTimedOut");
        }

        if (ack)
        {
            circuit.RecordAcknowledged();
        }

        _clock.Advance(circuit.Options.SampleInterval);
        circuit.Sample();
    }

    private KafkaCircuit Circuit()
    {
        var circuit = new KafkaCircuit(
            new CircuitOptions { Window = TimeSpan.FromSeconds(1), BreakDuration = TimeSpan.FromSeconds(1), StallAfter = TimeSpan.FromMilliseconds(500) },
            (TimeSpan _, out string problem) =>
            {
                _probes++;
                problem = _reachable ? string.Empty : "no broker answered";
                return _reachable;
            },
            () => _inFlight,
            _clock,
            NullLogger<KafkaCircuit>.Instance);
        circuit.Opened += () => Interlocked.Increment(ref _opened);
        circuit.Closed += () => Interlocked.Increment(ref _closed);
        return circuit;
    }
}
