namespace Klais.Edge.Spill;

/// <summary>Where a record starts: segment id and byte offset in that segment. Ordered as the log is.</summary>
internal readonly record struct SpillPosition(long Segment, long Offset) : IComparable<SpillPosition>
{
    public int CompareTo(SpillPosition other) =>
        Segment != other.Segment ? Segment.CompareTo(other.Segment) : Offset.CompareTo(other.Offset);

    public static bool operator <(SpillPosition a, SpillPosition b) => a.CompareTo(b) < 0;

    public static bool operator >(SpillPosition a, SpillPosition b) => a.CompareTo(b) > 0;

    public static bool operator <=(SpillPosition a, SpillPosition b) => a.CompareTo(b) <= 0;

    public static bool operator >=(SpillPosition a, SpillPosition b) => a.CompareTo(b) >= 0;

    public override string ToString() => $"{Segment}:{Offset}";
}
