using System.Globalization;

namespace Klais.Edge.Spill;

/// <summary>When spilled records are forced to disk (<c>KLAIS_SPILL_FSYNC</c>).</summary>
internal enum SpillFsync
{
    /// <summary>Every append is written and fsynced before it counts as spilled: nothing is lost, slowest.</summary>
    Always,

    /// <summary>Appends are buffered; every interval the buffer is written and fsynced.</summary>
    Interval,

    /// <summary>Appends are buffered and written when the buffer fills; the OS decides when they reach the disk.</summary>
    Never,
}

/// <summary>What an append does when the spill holds <see cref="SpillOptions.MaxBytes"/> (<c>KLAIS_SPILL_FULL_POLICY</c>).</summary>
internal enum SpillFullPolicy
{
    /// <summary>The new record is refused and counted (<c>spill.refused</c>); what is already spilled is kept.</summary>
    RefuseNewest,

    /// <summary>The sink says "not now": the Dam holds the record in its bounded queue and drops (counted) when that is full too.</summary>
    Block,
}

/// <summary>Settings of the <see cref="SpillLog"/>.</summary>
internal sealed class SpillOptions
{
    public const long MinMaxBytes = 1L << 20;
    public const long MaxMaxBytes = 1L << 40;

    /// <summary>Directory of the segment files and the checkpoint (<c>KLAIS_SPILL_DIR</c>).</summary>
    public string Directory { get; set; } = string.Empty;

    /// <summary>Upper bound of all segment files together (<c>KLAIS_SPILL_MAX_BYTES</c>).</summary>
    public long MaxBytes { get; set; } = 1L << 30;

    public SpillFsync Fsync { get; set; } = SpillFsync.Interval;

    /// <summary>For <see cref="SpillFsync.Interval"/>: how often the buffer is written and fsynced.</summary>
    public TimeSpan FsyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public SpillFullPolicy FullPolicy { get; set; } = SpillFullPolicy.RefuseNewest;

    /// <summary>
    /// A segment is closed and a new one started past this size; replayed segments are deleted whole. 64 MiB, at
    /// most an eighth of <see cref="MaxBytes"/>: space comes back in steps small against the bound.
    /// </summary>
    public long SegmentBytes { get; set; } = 64L << 20;

    /// <summary>Write buffer of the tail segment (fsync modes other than always). 64 KiB: one write per ~700 records of 90 bytes.</summary>
    public int BufferBytes { get; set; } = 64 << 10;

    public long EffectiveSegmentBytes => Math.Max(SpillFormat.MaxRecordLength * 2L, Math.Min(SegmentBytes, MaxBytes / 8));

    /// <summary>Parses <c>always</c>, <c>never</c> or <c>interval:&lt;ms&gt;</c> (1 to 60000 ms).</summary>
    public static bool TryParseFsync(string text, out SpillFsync mode, out TimeSpan interval)
    {
        interval = TimeSpan.FromMilliseconds(100);
        string value = text.Trim().ToLowerInvariant();
        switch (value)
        {
            case "always":
                mode = SpillFsync.Always;
                return true;
            case "never":
                mode = SpillFsync.Never;
                return true;
        }

        mode = SpillFsync.Interval;
        const string prefix = "interval:";
        if (value.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int ms)
            && ms is >= 1 and <= 60_000)
        {
            interval = TimeSpan.FromMilliseconds(ms);
            return true;
        }

        return false;
    }

    /// <summary>Every problem, each naming the setting, its value and the rule; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            yield return $"`{nameof(SpillOptions)}.{nameof(Directory)}` is empty. It must name a directory.";
        }

        if (MaxBytes is < MinMaxBytes or > MaxMaxBytes)
        {
            yield return $"`{nameof(SpillOptions)}.{nameof(MaxBytes)}` is {MaxBytes}. It must be from {MinMaxBytes} to {MaxMaxBytes}.";
        }

        if (Fsync == SpillFsync.Interval && (FsyncInterval < TimeSpan.FromMilliseconds(1) || FsyncInterval > TimeSpan.FromMinutes(1)))
        {
            yield return $"`{nameof(SpillOptions)}.{nameof(FsyncInterval)}` is {FsyncInterval}. It must be from 1 ms to 1 minute.";
        }

        if (BufferBytes < 4096)
        {
            yield return $"`{nameof(SpillOptions)}.{nameof(BufferBytes)}` is {BufferBytes}. It must be 4096 or more.";
        }
    }
}
