using Klais.Learning.Burst;
using Microsoft.Extensions.Logging;

namespace Klais.Grains.Swarm;

/// <summary>
/// The silo's burst model: one <see cref="BurstModel"/> (one ONNX Runtime session) per silo, whichever grain
/// activation asks. Loaded at start; every <see cref="BurstModelOptions.RecheckInterval"/> the file's size and
/// modification time are looked at and, when they changed, the file is loaded again. The file is the truth: a file
/// replaced by a good one puts that model in force, a file that became missing or corrupt puts the heuristic in force
/// (DEGRADED_ML) at once rather than at the next restart. <see cref="Status"/> is what <c>/health</c> shows; the swarm
/// grain predicts through <see cref="TryPredict"/>. Thread-safe: loads and predictions take one lock.
/// </summary>
public sealed partial class BurstModelService : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ILogger _log;
    private readonly ITimer _timer;
    private BurstModel? _model;
    private FileStamp _stamp;
    private string? _loadError;
    private string? _runError;
    private BurstModelView _status;
    private long _loads;
    private long _failedPredictions;

    public BurstModelService(BurstModelOptions options, TimeProvider time, ILogger<BurstModelService> log)
    {
        Options = options;
        _log = log;
        _status = Load(Stamp(options.Path));
        _timer = time.CreateTimer(_ => RefreshOnTimer(), null, options.RecheckInterval, options.RecheckInterval);
    }

    public BurstModelOptions Options { get; }

    /// <summary>The model in force at this silo: <c>onnx</c>, or <c>heuristic</c> with the reason.</summary>
    public BurstModelView Status => Volatile.Read(ref _status);

    /// <summary>Load attempts, the one at start included.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Predictions the model refused or failed (the heuristic answered instead).</summary>
    public long FailedPredictions => Interlocked.Read(ref _failedPredictions);

    /// <summary>Loads the file again when its size or modification time changed; true when it did.</summary>
    public bool Refresh()
    {
        FileStamp stamp = Stamp(Options.Path);
        lock (_gate)
        {
            if (stamp == _stamp)
            {
                return false;
            }

            Volatile.Write(ref _status, Load(stamp));
            return true;
        }
    }

    /// <summary>A timer callback must not throw (it would end the process): anything TryLoad did not foresee is logged, and looked at again next time.</summary>
    private void RefreshOnTimer()
    {
        try
        {
            Refresh();
        }
        catch (Exception e)
        {
            LogRefreshFailed(_log, e, Options.Path);
        }
    }

    /// <summary>
    /// P(burst) from the model for a row of <see cref="BurstFeatures"/>; false when no model is loaded or it refused
    /// the row or failed (then <see cref="Status"/> says why, until a prediction succeeds again).
    /// </summary>
    public bool TryPredict(ReadOnlySpan<float> features, out float probability)
    {
        lock (_gate)
        {
            probability = 0;
            if (_model is null)
            {
                return false;
            }

            bool ok = _model.TryPredict(features, out probability);
            string? error = ok ? null : _model.LastError;
            if (error != _runError)
            {
                if (error is not null)
                {
                    LogPredictionFailed(_log, error);
                }

                _runError = error;
                Volatile.Write(ref _status, View());
            }

            if (!ok)
            {
                Interlocked.Increment(ref _failedPredictions);
            }

            return ok;
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            _model?.Dispose();
            _model = null;
        }
    }

    private BurstModelView Load(FileStamp stamp)
    {
        Interlocked.Increment(ref _loads);
        _model?.Dispose();
        _model = null;
        _runError = null;
        _stamp = stamp;
        if (BurstModel.TryLoad(Options.Path, out BurstModel? model, out string error))
        {
            _model = model;
            _loadError = null;
            LogLoaded(_log, Options.Path, model.Version);
        }
        else
        {
            _loadError = error;
            LogLoadFailed(_log, error);
        }

        return View();
    }

    private BurstModelView View() => _model is not null && _runError is null
        ? new BurstModelView(BurstModelView.Onnx, _model.Version, null, Options.Path, 0)
        : new BurstModelView(BurstModelView.Heuristic, _model?.Version, _loadError ?? _runError, Options.Path, 0);

    private static FileStamp Stamp(string path)
    {
        try
        {
            var info = new FileInfo(path);
            return info.Exists ? new FileStamp(true, info.Length, info.LastWriteTimeUtc.Ticks) : default;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return default;
        }
    }

    /// <summary>What tells a changed file: a replaced or rewritten file changes its modification time, nearly always its size.</summary>
    private readonly record struct FileStamp(bool Exists, long Length, long WrittenTicks);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Burst model {Path} loaded ({Version}): ONNX model in force")]
    private static partial void LogLoaded(ILogger logger, string path, string version);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "{Error} The Holt heuristic is in force (DEGRADED_ML) until the file is replaced")]
    private static partial void LogLoadFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "Looking at burst model {Path} failed; tried again at the next look")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Burst model prediction failed: {Error} The Holt heuristic answers until a prediction succeeds")]
    private static partial void LogPredictionFailed(ILogger logger, string error);
}
