using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Hosting;

/// <summary>
/// The Dam's drainer: it hands queued datagrams to delivery as tokens come, from start (before klais.control's
/// replay and the receive threads) to the stop. At the stop, after the receive threads and the control side, the
/// drainer ends with the circuit's monitor (<see cref="EdgeLifetime.Draining"/>) and the queue is delivered at once,
/// rate ignored, within half the stop's remaining time: in an outage its records go to the spill, which is fast.
/// </summary>
internal sealed class DamService(Dam.Dam dam, EdgeLifetime lifetime) : IHostedService
{
    private Task? _drainer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _drainer = dam.RunAsync(lifetime.Draining);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await lifetime.BeginDrainAsync().ConfigureAwait(false);
        if (_drainer is not null)
        {
            await _drainer.ConfigureAwait(false);
        }

        dam.DrainAll(lifetime.Remaining / 2);
    }
}
