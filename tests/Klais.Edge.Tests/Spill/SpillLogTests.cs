using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Klais.Edge.Dam;
using Klais.Edge.Spill;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Spill;

public sealed class SpillLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "klais-spill-unit-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Fact]
    public void Appended_records_are_read_back_in_order_with_every_field()
    {
        using SpillLog log = Open();
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(SpillAppendResult.Appended, log.Append(Record(i)));
        }

        log.FlushAndSync();
        Assert.Equal(1000, log.PendingRecords);
        List<(string Id, uint Seq, string Payload, long Ts, bool Done)> read = ReadAll(log);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => ($"dev-{i % 7}", (uint)i, $"{{\"i\":{i}}}", 1_000_000L + i, false)), read);
    }

    [Fact]
    public void Reopened_log_resumes_at_the_checkpoint_and_passes_over_records_acknowledged_out_of_order()
    {
        var positions = new List<SpillPosition>();
        using (SpillLog log = Open())
        {
            for (int i = 0; i < 10; i++)
            {
                log.Append(Record(i));
            }

            log.Close();
            using var reader = new SpillReader(log);
            while (reader.TryRead(out _, out SpillPosition p, out _))
            {
                positions.Add(p);
            }

            // Records 0-2 acknowledged in order, record 5 out of order.
            log.Commit(positions[3], [positions[5]], newlyDone: 4);
            Assert.Equal(6, log.PendingRecords);
        }

        using SpillLog reopened = Open();
        Assert.Equal(6, reopened.PendingRecords);
        List<(string Id, uint Seq, string Payload, long Ts, bool Done)> read = ReadAll(reopened);
        Assert.Equal([3u, 4, 5, 6, 7, 8, 9], read.Select(r => r.Seq));
        Assert.Equal([false, false, true, false, false, false, false], read.Select(r => r.Done));
    }

    [Fact]
    public void Torn_last_record_is_counted_and_skipped_never_replayed()
    {
        string segment = WriteSegment(_dir, 5);
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.SetLength(file.Length - 3);   // a crash in the middle of the last write
        }

        using SpillLog reopened = Open();
        Assert.Equal(1, reopened.TruncatedTails);
        Assert.Equal(0, reopened.CorruptRecords);
        Assert.Equal(4, reopened.PendingRecords);
        Assert.Equal([0u, 1, 2, 3], ReadAll(reopened).Select(r => r.Seq));
        Assert.True(reopened.SkippedBytes > 0);
    }

    [Fact]
    public void Damaged_record_fails_its_checksum_and_the_rest_of_its_segment_is_skipped()
    {
        string segment = WriteSegment(_dir, 5);
        byte[] bytes = File.ReadAllBytes(segment);
        int third = SpillFormat.HeaderLength + (2 * SpillFormat.EncodedLength(Record(0)));
        bytes[third + SpillFormat.FrameLength + 3] ^= 0x40;   // a bit flips inside the third record's body
        File.WriteAllBytes(segment, bytes);

        using SpillLog reopened = Open();
        Assert.Equal(1, reopened.CorruptRecords);
        Assert.Equal([0u, 1], ReadAll(reopened).Select(r => r.Seq));
    }

    [Fact]
    public void Any_damage_to_a_segment_never_crashes_and_replays_only_a_prefix_of_what_was_written()
    {
        Arbitrary<(int Records, int[] Positions, byte[] Values, int Cut)> damage = Arb.From(
            from records in Gen.Choose(1, 40)
            from count in Gen.Choose(0, 6)
            from positions in Gen.ArrayOf(Gen.Choose(0, 4000), count)
            from values in Gen.ArrayOf(Gen.Choose(0, 255).Select(v => (byte)v), count)
            from cut in Gen.Choose(0, 200)
            select (records, positions, values, cut));

        Prop.ForAll(damage, d =>
        {
            string dir = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
            string segment = WriteSegment(dir, d.Records);
            byte[] bytes = File.ReadAllBytes(segment);
            for (int i = 0; i < d.Positions.Length; i++)
            {
                bytes[d.Positions[i] % bytes.Length] ^= (byte)(d.Values[i] | 1);
            }

            File.WriteAllBytes(segment, bytes.AsSpan(0, Math.Max(0, bytes.Length - d.Cut)).ToArray());
            using SpillLog reopened = Open(dir);
            uint[] read = ReadAll(reopened).Select(r => r.Seq).ToArray();
            return read.SequenceEqual(Enumerable.Range(0, read.Length).Select(i => (uint)i)) && read.Length <= d.Records
                && reopened.PendingRecords == read.Length;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Full_spill_refuses_appends_until_acknowledged_segments_are_deleted()
    {
        using SpillLog log = Open(maxBytes: SpillOptions.MinMaxBytes);
        byte[] payload = Encoding.UTF8.GetBytes("{\"p\":\"" + new string('x', 1000) + "\"}");
        int appended = 0;
        while (log.Append(new Admitted("dev"u8, (uint)appended, payload, 0)) == SpillAppendResult.Appended)
        {
            appended++;
        }

        Assert.True(log.IsFull);
        Assert.Equal(1, log.FullRefusals);
        Assert.InRange(log.Bytes, SpillOptions.MinMaxBytes - 1100, SpillOptions.MinMaxBytes);
        int segments = log.SegmentCount;
        Assert.True(segments > 2);

        // The replayer acknowledged everything in the first segment: it is deleted and there is room again.
        log.Commit(new SpillPosition(1 + 1, SpillFormat.HeaderLength), [], newlyDone: 0);
        Assert.Equal(segments - 1, log.SegmentCount);
        Assert.Equal(1, log.SegmentsDeleted);
        Assert.Equal(SpillAppendResult.Appended, log.Append(new Admitted("dev"u8, 0, payload, 0)));
        Assert.False(log.IsFull);
    }

    [Fact]
    public void A_second_log_on_the_same_directory_is_refused()
    {
        using SpillLog first = Open();
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Open());
        Assert.Contains("in use by another process", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Interval_fsync_writes_and_syncs_the_buffer_when_the_clock_passes_the_interval()
    {
        var clock = new ManualTimeProvider();
        using SpillLog log = Open(clock: clock, fsync: SpillFsync.Interval);
        log.Append(Record(1));
        using var reader = new SpillReader(log);
        Assert.False(reader.TryRead(out _, out _, out _));   // still in the write buffer
        Assert.Equal(0, log.Fsyncs);

        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(reader.TryRead(out Admitted record, out _, out _));
        Assert.Equal(1u, record.Sequence);
        Assert.Equal(1, log.Fsyncs);
    }

    [Fact]
    public void Always_fsync_makes_every_append_readable_and_synced_at_once()
    {
        using SpillLog log = Open(fsync: SpillFsync.Always);
        log.Append(Record(1));
        log.Append(Record(2));
        Assert.Equal(2, log.Fsyncs);
        Assert.Equal([1u, 2], ReadAll(log).Select(r => r.Seq));
    }

    internal static Admitted Record(int i) =>
        new(Encoding.UTF8.GetBytes($"dev-{i % 7}"), (uint)i, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}"), 1_000_000L + i);

    /// <summary>Writes records 0..<paramref name="records"/>-1 into a fresh log in <paramref name="dir"/>; returns its one segment file.</summary>
    private static string WriteSegment(string dir, int records)
    {
        using (SpillLog log = Open(dir))
        {
            for (int i = 0; i < records; i++)
            {
                log.Append(Record(i));
            }
        }

        return Directory.GetFiles(dir, "*.spill").Single();
    }

    private static List<(string Id, uint Seq, string Payload, long Ts, bool Done)> ReadAll(SpillLog log)
    {
        var read = new List<(string, uint, string, long, bool)>();
        using var reader = new SpillReader(log);
        while (reader.TryRead(out Admitted r, out _, out bool done))
        {
            read.Add((Encoding.UTF8.GetString(r.DeviceId), r.Sequence, Encoding.UTF8.GetString(r.Payload), r.ReceivedUnixNanos, done));
        }

        return read;
    }

    private SpillLog Open(long maxBytes = 1L << 30, TimeProvider? clock = null, SpillFsync fsync = SpillFsync.Never) => Open(_dir, maxBytes, clock, fsync);

    private static SpillLog Open(string dir, long maxBytes = 1L << 30, TimeProvider? clock = null, SpillFsync fsync = SpillFsync.Never)
    {
        SpillLog log = new(new SpillOptions { Directory = dir, MaxBytes = maxBytes, Fsync = fsync }, clock ?? new ManualTimeProvider(), NullLogger<SpillLog>.Instance);
        log.OpenForAppends();
        return log;
    }
}
