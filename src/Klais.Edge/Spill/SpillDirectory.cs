using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Spill;

/// <summary>
/// Where the spill (and the state kept next to it) lives: <c>KLAIS_SPILL_DIR</c>, or, when it is unset, a temporary
/// directory of this process, removed when the edge is disposed (after the spill that writes into it).
/// </summary>
internal sealed partial class SpillDirectory : IDisposable
{
    public SpillDirectory(EdgeConfig config, ILogger<SpillDirectory> log)
    {
        IsTemporary = config.SpillDirectory is null;
        Path = config.SpillDirectory
            ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"klais-edge-spill-{Environment.ProcessId}-{Guid.NewGuid():N}");
        if (IsTemporary)
        {
            LogTemporarySpill(log, Path);
        }
    }

    public string Path { get; }

    /// <summary>True when <c>KLAIS_SPILL_DIR</c> is unset: a Kafka outage's backlog does not survive a restart.</summary>
    public bool IsTemporary { get; }

    public void Dispose()
    {
        if (!IsTemporary)
        {
            return;
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(EventId = EventIds.SpillTemporary, Level = LogLevel.Warning,
        Message = "KLAIS_SPILL_DIR is unset: spilling to the temporary directory {Directory}, removed at exit. A Kafka outage's backlog does not survive a restart. Set KLAIS_SPILL_DIR for real use.")]
    private static partial void LogTemporarySpill(ILogger logger, string directory);
}
