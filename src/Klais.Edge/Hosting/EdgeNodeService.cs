using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Hosting;

/// <summary>
/// Starts the node with the host and stops it (drain, flush) when the host stops. The host cancels the start on
/// SIGTERM, so an edge stopped while it waits for klais.control goes straight to its bounded stop.
/// </summary>
internal sealed class EdgeNodeService(EdgeNode node) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => node.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => node.StopAsync();
}
