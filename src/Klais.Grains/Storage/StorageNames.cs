namespace Klais.Grains.Storage;

/// <summary>The grain storage providers KLAIS grains name in <c>[PersistentState]</c>.</summary>
public static class StorageNames
{
    /// <summary>Device, node, swarm and index state (Redis, or memory in development mode).</summary>
    public const string Grains = "klais";
}
