namespace Klais.Contracts.Configuration;

/// <summary>
/// What <c>KLAIS_LOG_LEVEL</c> accepts on every process: the short names (<c>warn</c>, <c>info</c>) and
/// Microsoft.Extensions.Logging's own (<c>warning</c>, <c>information</c>), any case. The values are the numbers of
/// Microsoft.Extensions.Logging's <c>LogLevel</c> (0 trace … 6 none), so a host casts them.
/// </summary>
public static class LogLevelNames
{
    public static IReadOnlyDictionary<string, int> Levels { get; } = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["trace"] = 0, ["debug"] = 1, ["info"] = 2, ["information"] = 2, ["warn"] = 3, ["warning"] = 3,
        ["error"] = 4, ["critical"] = 5, ["none"] = 6,
    };

    public const string Description = "trace, debug, info (or information), warn (or warning), error, critical or none.";
}
