using System.Diagnostics.CodeAnalysis;

namespace Klais.Grains;

/// <summary>The keys of the singleton grains and the rule every grain id follows.</summary>
public static class GrainKeys
{
    /// <summary>Key of the fleet-wide singletons: the swarm grain and the index grains.</summary>
    public const string Fleet = "fleet";

    /// <summary>Longest id accepted (device ids are at most 16 bytes on the wire; node ids at most 64 characters).</summary>
    public const int MaxIdLength = 128;

    /// <summary>Shards of the fleet outlier model.</summary>
    public const int OutlierShards = 4;

    /// <summary>
    /// The outlier-model shard of a device: FNV-1a of its id's UTF-16 code units, so every silo and every run agrees
    /// (<see cref="string.GetHashCode()"/> differs per process).
    /// </summary>
    public static string OutlierShard(string deviceId)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in deviceId)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        return "outliers-" + (hash % OutlierShards).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>True for an id a grain may have: 1 to 128 characters, no control characters.</summary>
    public static bool IsValidId([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && !id.Any(char.IsControl);
}
