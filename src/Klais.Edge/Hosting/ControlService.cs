using Klais.Edge.Control;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Hosting;

/// <summary>
/// The control side (registered only when <c>KLAIS_CONTROL</c> is on and Kafka is not embedded): its start replays
/// klais.control, so the receive threads, which start after it, begin with the blocklist and limits rebuilt (at most
/// the control start timeout). A SIGTERM during that wait ends it at once and the host goes on to the stop. Its stop,
/// right after the receive threads', ends following and reporting within a second and a half.
/// </summary>
internal sealed class ControlService(EdgeControl control, EdgeLifetime lifetime) : IHostedService
{
    /// <summary>How long the control follower and the reporter get: they notice within half a second.</summary>
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(1.5);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await control.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // SIGTERM during start-up: ReceiveService sees the same token and leaves the threads unstarted.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => control.StopAsync(EdgeLifetime.Min(StopLimit, lifetime.Remaining));
}
