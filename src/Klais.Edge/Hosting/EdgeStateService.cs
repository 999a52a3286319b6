using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Hosting;

/// <summary>
/// What the edge keeps across restarts besides the spill: the dedupe windows, in <see cref="DedupeStateFile"/> next
/// to the spill. Loaded at start, before anything is received; saved as the stop's last step, after the spill's
/// checkpoint (not for a temporary spill, which goes away at exit). Then it says what the edge leaves behind.
/// </summary>
internal sealed partial class EdgeStateService(
    DedupeTable dedupe, SpillDirectory directory, Dam.Dam dam, TelemetryProducer producer, SpillLog spill, DeliveryRouter router,
    TimeProvider time, ILogger<EdgeStateService> log) : IHostedService
{
    public const string DedupeStateFile = "dedupe.state";

    private string StatePath => Path.Combine(directory.Path, DedupeStateFile);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        int loaded = dedupe.Load(StatePath, time.GetTimestamp());
        if (loaded >= 0)
        {
            LogDedupeLoaded(log, loaded);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (!directory.IsTemporary)
        {
            try
            {
                LogDedupeSaved(log, dedupe.Save(StatePath));
            }
            catch (IOException e)
            {
                LogDedupeSaveFailed(log, e.Message);
            }
        }

        LogStopped(log, dam.QueueDepth == 0, dam.QueueDepth, producer.Delivered, spill.PendingRecords, router.Lost);
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = EventIds.Stopped, Level = LogLevel.Information,
        Message = "Edge stopped: Dam drained {Drained} (left {QueueDepth}); delivered {Delivered}; spill holds {Pending} records for the next start; lost {Lost}")]
    private static partial void LogStopped(ILogger logger, bool drained, long queueDepth, long delivered, long pending, long lost);

    [LoggerMessage(EventId = EventIds.DedupeState, Level = LogLevel.Information, Message = "Dedupe: windows of {Devices} devices restored from the last run")]
    private static partial void LogDedupeLoaded(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.DedupeSaved, Level = LogLevel.Information, Message = "Dedupe: windows of {Devices} devices saved")]
    private static partial void LogDedupeSaved(ILogger logger, int devices);

    [LoggerMessage(EventId = EventIds.DedupeSaveFailed, Level = LogLevel.Warning, Message = "Dedupe: windows could not be saved: {Error}")]
    private static partial void LogDedupeSaveFailed(ILogger logger, string error);
}
