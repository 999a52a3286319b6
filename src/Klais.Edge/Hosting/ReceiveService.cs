using Klais.Edge.Configuration;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// The receive threads: started last, once every other hosted service has started (<see cref="StartedAsync"/>:
/// delivery runs and klais.control has been replayed), and stopped first, before any other service stops
/// (<see cref="StoppingAsync"/>, which also starts the stop's one deadline): nothing is received that cannot be
/// delivered or spilled. Its sockets are bound long before: this service is registered, and so built, first
/// (<c>AddKlaisEdge</c>), and from then on the kernel holds what devices send.
/// </summary>
internal sealed partial class ReceiveService : IHostedLifecycleService, IAsyncDisposable
{
    /// <summary>How long the receive threads get to notice a stop (they poll every 100 ms).</summary>
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(1);

    private readonly UdpReceiver _receiver;
    private readonly EdgePipeline _pipeline;
    private readonly EdgeLifetime _lifetime;
    private readonly EdgeConfig _config;
    private readonly IdleTrim _idleTrim;
    private readonly ILogger _log;
    private readonly Lock _gate = new();

    public ReceiveService(UdpReceiver receiver, EdgePipeline pipeline, EdgeLifetime lifetime, EdgeConfig config, TimeProvider time, ILogger<ReceiveService> log)
    {
        _receiver = receiver;
        _pipeline = pipeline;
        _lifetime = lifetime;
        _config = config;
        _log = log;
        _idleTrim = new IdleTrim(receiver, time);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Starts the receive threads. Not after a SIGTERM during start-up (<paramref name="cancellationToken"/>): the host
    /// goes on to its stop, and the datagrams stay in the socket's buffer, counted as kernel drops if they overflow it.
    /// </summary>
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (cancellationToken.IsCancellationRequested || _lifetime.IsStopping)
            {
                return Task.CompletedTask;
            }

            _lifetime.MarkReceiving();
            _receiver.Start(_pipeline);
        }

        LogStarted(_log, _config.NodeId, _receiver.LocalEndPoint.ToString(), _config.DamMaxRate, _config.DamBurstSize);
        _idleTrim.Start();
        return Task.CompletedTask;
    }

    /// <summary>SIGTERM: the stop's first step. Readiness goes false, the stop's deadline starts, the threads stop.</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // A start still waiting for klais.control sees IsStopping and never starts the threads.
            _lifetime.BeginStop();
            _receiver.Stop(EdgeLifetime.Min(StopLimit, _lifetime.Remaining));
        }

        await _idleTrim.DisposeAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Waits (5 s at most) for the receive threads to end before the container disposes the pipeline and the Dam
    /// they call: the container built them before this service, so it disposes them after it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _receiver.Stop();
        await _idleTrim.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = EventIds.Started, Level = LogLevel.Information,
        Message = "Edge {NodeId} receiving on udp://{Endpoint}; Dam rate {Rate}/s, burst {Burst}")]
    private static partial void LogStarted(ILogger logger, string nodeId, string endpoint, double rate, long burst);
}
