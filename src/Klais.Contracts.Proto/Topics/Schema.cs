namespace Klais.Contracts.Proto;

/// <summary>The schema version every record carries, and the check readers apply.</summary>
public static class Schema
{
    public const int Current = (int)SchemaVersion.Current;

    /// <summary>True when this code can read a record of <paramref name="version"/> (unknown fields are skipped by protobuf).</summary>
    public static bool IsReadable(int version) => version is >= 1 and <= Current;
}
