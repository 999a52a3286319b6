using System.Globalization;
using Klais.Edge.Control;
using Klais.Edge.Delivery;
using Klais.Edge.Spill;
using Polly.CircuitBreaker;

namespace Klais.Edge.Hosting;

/// <summary>
/// The edge's degradation level with the reasons behind it, as <c>/health</c> and <c>/metrics</c>
/// show it. 0 NORMAL; 1 DEGRADED_ML (the fleet's burst model is unavailable and the swarm predicts with its heuristic,
/// as the last burst advice on klais.control says); 2 DEGRADED_KAFKA (circuit not closed, or records going to the spill or being replayed from it);
/// 3 DEGRADED_FULL (Kafka degraded and the spill cannot take more either: full or failing, so admitted records are
/// refused or held back — several failures at once, only essential processing left).
/// </summary>
internal sealed record EdgeDegradation(int Level, IReadOnlyList<string> Reasons)
{
    public const int Normal = 0;
    public const int DegradedMl = 1;
    public const int DegradedKafka = 2;
    public const int DegradedFull = 3;

    public static IReadOnlyList<string> Names { get; } = ["NORMAL", "DEGRADED_ML", "DEGRADED_KAFKA", "DEGRADED_FULL"];

    public string Name => Names[Level];

    /// <param name="applier">The control side's state, null when control is off (no fleet model: never DEGRADED_ML).</param>
    public static EdgeDegradation Of(KafkaCircuit kafka, DeliveryRouter router, SpillLog spill, ControlApplier? applier)
    {
        var reasons = new List<string>();
        CircuitState circuit = kafka.State;
        DeliveryMode mode = router.Mode;
        string since = Seconds(kafka);
        switch (circuit)
        {
            case CircuitState.Open or CircuitState.Isolated:
                reasons.Add($"Kafka circuit open for {since} s: {kafka.LastProblem ?? "delivery failing"}.");
                break;
            case CircuitState.HalfOpen:
                reasons.Add("Kafka circuit half-open: probing Kafka.");
                break;
        }

        switch (mode)
        {
            case DeliveryMode.Draining:
                reasons.Add("Taking records back from librdkafka into the spill.");
                break;
            case DeliveryMode.Spilling when circuit == CircuitState.Closed:
                reasons.Add($"Replaying the spill: {spill.PendingRecords} records ({spill.Bytes} bytes) not yet acknowledged; new records queue behind them in the spill.");
                break;
            case DeliveryMode.Spilling:
                reasons.Add($"Spilling: {spill.PendingRecords} records ({spill.Bytes} bytes) wait for Kafka in {spill.Directory}.");
                break;
        }

        bool full = spill.IsFull && mode != DeliveryMode.Direct;
        if (full)
        {
            reasons.Add(spill.Options.FullPolicy == SpillFullPolicy.RefuseNewest
                ? $"Spill full ({spill.Bytes} of {spill.Options.MaxBytes} bytes): newest records are refused; {router.Lost} lost so far (spill.lost)."
                : $"Spill full ({spill.Bytes} of {spill.Options.MaxBytes} bytes): the Dam holds new records and drops them when its queue is full.");
        }

        bool failing = spill.IsFailing && mode != DeliveryMode.Direct && !full;
        if (failing)
        {
            reasons.Add($"Spill writes failing: {spill.LastError}; {router.Lost} records lost so far.");
        }

        string? modelError = applier?.BurstModelError;
        if (modelError is not null)
        {
            reasons.Add($"The fleet's burst model is unavailable; the control plane predicts bursts with its heuristic: {modelError}");
        }

        int level = full || failing ? DegradedFull
            : circuit != CircuitState.Closed || mode != DeliveryMode.Direct ? DegradedKafka
            : modelError is not null ? DegradedMl
            : Normal;
        return new EdgeDegradation(level, reasons);
    }

    private static string Seconds(KafkaCircuit circuit) =>
        circuit.TimeInState.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}

/// <summary>The edge's degradation now, from the components it depends on (<c>/health</c>, <c>/metrics</c>, node reports).</summary>
internal sealed class EdgeHealth(KafkaCircuit circuit, DeliveryRouter router, SpillLog spill, ControlApplier? applier = null)
{
    public EdgeDegradation Degradation => EdgeDegradation.Of(circuit, router, spill, applier);
}
