using System.Diagnostics.CodeAnalysis;

namespace Klais.Contracts.Proto;

/// <summary>The grain kinds that receive records on klais.reports.</summary>
public enum GrainType
{
    Device,
    Node,
    Swarm,
}

/// <summary>
/// A grain's identity and its Kafka key: <c>"device/&lt;id&gt;"</c>, <c>"node/&lt;id&gt;"</c>, <c>"swarm/fleet"</c>.
/// The key of a record on klais.reports: the partition, and so the silo consuming it, follows from it.
/// </summary>
public readonly record struct GrainKey(GrainType Type, string Id)
{
    /// <summary>The one swarm grain of the fleet.</summary>
    public static GrainKey Fleet { get; } = new(GrainType.Swarm, "fleet");


    /// <summary>Longest id accepted (device ids are at most 16 bytes on the wire; node ids at most 64 characters).</summary>
    public const int MaxIdLength = 128;

    public static GrainKey Device(string id) => new(GrainType.Device, id);

    public static GrainKey Node(string id) => new(GrainType.Node, id);

    public override string ToString() => Type switch
    {
        GrainType.Device => "device/" + Id,
        GrainType.Node => "node/" + Id,
        _ => "swarm/" + Id,
    };

    /// <summary>True for an id a grain may have: 1 to 128 characters, no control characters.</summary>
    public static bool IsValidId([NotNullWhen(true)] string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && !id.Any(char.IsControl);

    public static bool TryParse(string? key, out GrainKey grain)
    {
        grain = default;
        int slash = key?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (slash <= 0)
        {
            return false;
        }

        string id = key![(slash + 1)..];
        GrainType? type = key[..slash] switch
        {
            "device" => GrainType.Device,
            "node" => GrainType.Node,
            "swarm" => GrainType.Swarm,
            _ => null,
        };
        if (type is null || !IsValidId(id))
        {
            return false;
        }

        grain = new GrainKey(type.Value, id);
        return true;
    }
}
