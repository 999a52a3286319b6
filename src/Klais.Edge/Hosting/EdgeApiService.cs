using System.Net;
using Klais.Edge.Api;
using Klais.Edge.Api.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// Serves the edge API. Registered before <see cref="EdgeNodeService"/>, so it starts first and stops last: the
/// API answers while the node drains on SIGTERM.
/// </summary>
internal sealed class EdgeApiService : IHostedService, IAsyncDisposable
{
    private readonly HttpApiServer _server;

    public EdgeApiService(EdgeNode node, ILoggerFactory loggers, TimeProvider time)
    {
        var api = new EdgeApi(node, loggers.CreateLogger("Klais.Edge.Api"));
        _server = new HttpApiServer(node.Config.ApiBind, api.Handle, new HttpApiLimits(), time, loggers.CreateLogger<HttpApiServer>());
    }

    public IPEndPoint LocalEndPoint => _server.LocalEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _server.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _server.StopAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
