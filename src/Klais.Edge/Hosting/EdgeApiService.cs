using System.Net;
using Klais.Edge.Api;
using Klais.Edge.Api.Http;
using Klais.Edge.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// Serves the edge API from before the first start step (<see cref="StartingAsync"/>) to after the last stop step
/// (<see cref="StoppedAsync"/>), wherever it is registered: <c>/health/live</c> answers while klais.control is
/// replayed, and <c>/health/ready</c> says "stopping" while the edge drains on SIGTERM.
/// </summary>
internal sealed partial class EdgeApiService : IHostedLifecycleService, IAsyncDisposable
{
    private readonly HttpApiServer _server;
    private readonly ILogger _log;
    private readonly bool _open;

    public EdgeApiService(EdgeApi api, EdgeConfig config, TimeProvider time, ILogger<EdgeApiService> log, ILogger<HttpApiServer> serverLog)
    {
        _log = log;
        _open = config.ApiTokens.IsOpen;
        _server = new HttpApiServer(config.ApiBind, api.Handle, new HttpApiLimits(), time, serverLog, config.ApiCertificate);
    }

    public IPEndPoint LocalEndPoint => _server.LocalEndPoint;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (_open)
        {
            LogOpen(_log, Klais.Contracts.Security.ApiTokens.OpenWarning);
        }

        _server.Start();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => _server.StopAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [LoggerMessage(EventId = EventIds.ApiOpen, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogOpen(ILogger logger, string warning);
}
