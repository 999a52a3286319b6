using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Hosting;

/// <summary>Starts the node with the host and stops it (drain, flush) when the host stops.</summary>
internal sealed class EdgeNodeService(EdgeNode node) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        node.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => node.StopAsync();
}
