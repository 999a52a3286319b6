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
internal sealed partial class EdgeApiService : IHostedService, IAsyncDisposable
{
    private readonly HttpApiServer _server;
    private readonly ILogger _log;
    private readonly bool _open;

    public EdgeApiService(EdgeNode node, ILoggerFactory loggers, TimeProvider time)
    {
        _log = loggers.CreateLogger("Klais.Edge.Api");
        _open = node.Config.ApiTokens.IsOpen;
        var api = new EdgeApi(node, _log);
        _server = new HttpApiServer(node.Config.ApiBind, api.Handle, new HttpApiLimits(), time, loggers.CreateLogger<HttpApiServer>(), node.Config.ApiCertificate);
    }

    public IPEndPoint LocalEndPoint => _server.LocalEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_open)
        {
            LogOpen(_log, Klais.Contracts.Security.ApiTokens.OpenWarning);
        }

        _server.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _server.StopAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [LoggerMessage(EventId = EventIds.ApiOpen, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogOpen(ILogger logger, string warning);
}
