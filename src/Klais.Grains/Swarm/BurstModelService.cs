using Klais.Learning.Burst;
using Microsoft.Extensions.Logging;

namespace Klais.Grains.Swarm;

/// <summary>
/// The silo's burst model: one <see cref="BurstModel"/> (one ONNX Runtime session) per silo, whichever grain
/// activation asks. Loaded at start; every <see cref="BurstModelOptions.RecheckInterval"/> the file's size and
/// modification time are looked at and, when they changed, the file is loaded again. The file is the truth: a file
/// replaced by a good one puts that model in force, a file that became missing or corrupt puts the heuristic in force
/// (DEGRADED_ML) at once rather than at the next restart. <see cref="Status"/> is what <c>/health</c> shows; the swarm
/// grain predicts through <see cref="TryPredict"/>. A fleet policy may pin a model by its version (<see cref="Pin"/>):
/// then the file is the one of that version among the <c>.onnx</c> files in the configured model's folder (the
/// catalogue, <see cref="Catalogue"/>), looked for again at every recheck while none has it. Thread-safe: loads and
/// predictions take one lock.
/// </summary>
public sealed partial class BurstModelService : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ILogger _log;
    private readonly ITimer _timer;
    private BurstModel? _model;
    private FileStamp _stamp;
    private string? _pinned;
    private string _path;
    private string? _loadError;
    private string? _runError;
    private BurstModelView _status;
    private long _loads;
    private long _failedPredictions;

    public BurstModelService(BurstModelOptions options, TimeProvider time, ILogger<BurstModelService> log)
    {
        Options = options;
        _log = log;
        _path = options.Path;
        _status = Load(Stamp(_path));
        _timer = time.CreateTimer(_ => RefreshOnTimer(), null, options.RecheckInterval, options.RecheckInterval);
    }

    public BurstModelOptions Options { get; }

    /// <summary>The model in force at this silo: <c>onnx</c>, or <c>heuristic</c> with the reason.</summary>
    public BurstModelView Status => Volatile.Read(ref _status);

    /// <summary>Load attempts, the one at start included.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Predictions the model refused or failed (the heuristic answered instead).</summary>
    public long FailedPredictions => Interlocked.Read(ref _failedPredictions);

    /// <summary>The folder whose <c>.onnx</c> files a policy may pin by version: the configured model's.</summary>
    public string CatalogueFolder => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Options.Path)) ?? ".";

    /// <summary>The version a fleet policy pins (null: the configured file is in force).</summary>
    public string? Pinned
    {
        get
        {
            lock (_gate)
            {
                return _pinned;
            }
        }
    }

    /// <summary>
    /// The models a policy may pin: every readable <c>.onnx</c> file in <see cref="CatalogueFolder"/>, version to
    /// path (the first path in name order when two files hold the same model).
    /// </summary>
    public IReadOnlyDictionary<string, string> Catalogue()
    {
        var models = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string[] files;
        try
        {
            files = Directory.GetFiles(CatalogueFolder, "*.onnx");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return models;
        }

        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            try
            {
                models.TryAdd(BurstModel.VersionOf(File.ReadAllBytes(file)), file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Unreadable now: not in the catalogue until it can be read.
            }
        }

        return models;
    }

    /// <summary>
    /// Puts the model of <paramref name="version"/> from the catalogue in force, or the configured file again for null.
    /// A version no file has leaves the heuristic in force (DEGRADED_ML, the error naming the version and the folder)
    /// until a file with it appears. True when the file in force changed.
    /// </summary>
    public bool Pin(string? version)
    {
        lock (_gate)
        {
            if (version == _pinned)
            {
                return false;
            }

            _pinned = version;
            _stamp = default;
            LogPinned(_log, version ?? "none (the configured file)");
        }

        return Refresh();
    }

    /// <summary>Loads the file again when its size or modification time changed, or a pinned version's file appeared; true when it did.</summary>
    public bool Refresh()
    {
        lock (_gate)
        {
            if (_pinned is not null && _model?.Version == _pinned && Stamp(_path) == _stamp)
            {
                return false; // the pinned model's file is as loaded: no need to read the whole catalogue again
            }

            string? path = _pinned is null ? Options.Path : Catalogue().GetValueOrDefault(_pinned);
            if (path is null)
            {
                if (_stamp == Missing)
                {
                    return false;
                }

                _model?.Dispose();
                _model = null;
                _runError = null;
                _stamp = Missing;
                _loadError = $"The fleet policy pins burst model {_pinned}, and no .onnx file in {CatalogueFolder} has that version.";
                LogLoadFailed(_log, _loadError);
                Volatile.Write(ref _status, View());
                return true;
            }

            FileStamp stamp = Stamp(path);
            if (stamp == _stamp && path == _path)
            {
                return false;
            }

            _path = path;
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
        if (BurstModel.TryLoad(_path, out BurstModel? model, out string error))
        {
            if (_pinned is not null && model.Version != _pinned)
            {
                // The file changed between the catalogue and the load: look again at the next recheck.
                model.Dispose();
                _stamp = default;
                _loadError = $"Burst model {_path} changed while it was loaded; it no longer has version {_pinned}.";
                LogLoadFailed(_log, _loadError);
                return View();
            }

            _model = model;
            _loadError = null;
            LogLoaded(_log, _path, model.Version);
        }
        else
        {
            _loadError = error;
            LogLoadFailed(_log, error);
        }

        return View();
    }

    private BurstModelView View() => _model is not null && _runError is null
        ? new BurstModelView(BurstModelView.Onnx, _model.Version, null, _path, 0)
        : new BurstModelView(BurstModelView.Heuristic, _model?.Version, _loadError ?? _runError, _path, 0);

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

    /// <summary>The stamp while a pinned version has no file: differs from every file's, and from "not looked at yet".</summary>
    private static readonly FileStamp Missing = new(false, -1, -1);

    /// <summary>What tells a changed file: a replaced or rewritten file changes its modification time, nearly always its size.</summary>
    private readonly record struct FileStamp(bool Exists, long Length, long WrittenTicks);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Burst model {Path} loaded ({Version}): ONNX model in force")]
    private static partial void LogLoaded(ILogger logger, string path, string version);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "{Error} The Holt heuristic is in force (DEGRADED_ML) until the file is replaced")]
    private static partial void LogLoadFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "Fleet policy: burst model pinned to {Version}")]
    private static partial void LogPinned(ILogger logger, string version);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "Looking at burst model {Path} failed; tried again at the next look")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Burst model prediction failed: {Error} The Holt heuristic answers until a prediction succeeds")]
    private static partial void LogPredictionFailed(ILogger logger, string error);
}
