using System.Diagnostics.CodeAnalysis;

namespace Klais.Grains;

/// <summary>The keys of the singleton grains and the rule every grain id follows.</summary>
public static class GrainKeys
{
    /// <summary>Key of the fleet-wide singletons: the swarm grain and the index grains.</summary>
    public const string Fleet = "fleet";

    /// <summary>Longest id accepted (device ids are at most 16 bytes on the wire; node ids at most 64 characters).</summary>
    public const int MaxIdLength = 128;

    /// <summary>True for an id a grain may have: 1 to 128 characters, no control characters.</summary>
    public static bool IsValidId([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && !id.Any(char.IsControl);
}
