using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Hosting;

/// <summary>
/// Kafka and delivery: the circuit's monitor and the router's replayer start before anything can be admitted, and
/// stop after the Dam has been drained into them. At the stop the router lets Kafka acknowledge what it can within
/// the stop's deadline, takes the rest back into the spill and writes the spill's checkpoint.
/// </summary>
internal sealed class DeliveryService(KafkaCircuit circuit, DeliveryRouter router, TelemetryProducer producer, EdgeLifetime lifetime)
    : IHostedService, IDisposable
{
    private Task? _circuitMonitor;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Until the Dam's drain: the stop then decides with the circuit's state as it was (EdgeLifetime.Draining).
        _circuitMonitor = circuit.RunAsync(lifetime.Draining);
        router.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await router.StopAsync(lifetime.Remaining).ConfigureAwait(false);
        if (_circuitMonitor is not null)
        {
            await _circuitMonitor.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes the Kafka client first: its delivery reports go to the router and the spill, which the container
    /// disposes after this service (it built them before it). Closing twice is harmless.
    /// </summary>
    public void Dispose() => producer.Dispose();
}
