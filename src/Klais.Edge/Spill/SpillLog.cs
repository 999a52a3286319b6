using System.Globalization;
using Klais.Edge.Configuration;
using Klais.Edge.Dam;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Klais.Edge.Spill;

/// <summary>What <see cref="SpillLog.Append"/> did.</summary>
internal enum SpillAppendResult
{
    Appended,

    /// <summary>The spill holds <see cref="SpillOptions.MaxBytes"/>; nothing was written.</summary>
    Full,

    /// <summary>Writing failed (I/O error); nothing was written.</summary>
    Failed,

    /// <summary>The log does not take appends now (the router has gone back to delivering directly).</summary>
    Closed,
}

/// <summary>
/// The edge's spill: an append-only log of admitted records that Kafka could not take, in numbered segment files
/// (<c>0000000000000001.spill</c>, …) plus a <see cref="SpillCheckpoint"/> of what Kafka has acknowledged since.
/// Appends come from any thread and are serialised by one lock (the spill runs only while Kafka is away, so the
/// lock is not on the normal path). One <see cref="SpillReader"/> replays; segments are deleted once every
/// record in them is acknowledged (<see cref="Commit"/>). The directory is locked against a second process.
/// </summary>
/// <remarks>
/// Records are buffered (<see cref="SpillOptions.BufferBytes"/>) and written whole, so the reader, which reads
/// only what has been written, never sees half a record. Segments found at start-up are scanned: a torn or
/// corrupt tail is counted and skipped, never replayed, never fatal; new records go to a new segment.
/// </remarks>
internal sealed partial class SpillLog : IDisposable
{
    public const string SegmentExtension = ".spill";

    private readonly SpillOptions _options;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private readonly FileStream _directoryLock;
    private readonly List<Segment> _segments = [];
    private readonly byte[] _buffer;
    private readonly byte[] _single = new byte[SpillFormat.MaxRecordLength];
    private readonly long _segmentBytes;
    private readonly ITimer? _flusher;
    private Segment? _tail;
    private int _buffered;
    private bool _open;
    private long _nextId;
    private long _totalBytes;
    private long _pending;
    private long _appended;
    private long _full;
    private long _writeErrors;
    private long _corruptRecords;
    private long _truncatedTails;
    private long _skippedBytes;
    private long _segmentsDeleted;
    private long _fsyncs;
    private bool _isFull;
    private bool _isFailing;
    private string? _lastError;
    private int _disposed;

    public SpillLog(SpillOptions options, TimeProvider time, ILogger<SpillLog> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsValidation.ThrowIfInvalid(options.Validate(), nameof(options));

        _options = options;
        _log = logger;
        _segmentBytes = options.EffectiveSegmentBytes;
        _buffer = new byte[options.BufferBytes];
        Directory = Path.GetFullPath(options.Directory);
        System.IO.Directory.CreateDirectory(Directory);
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second edge on the same directory fails here.
            _directoryLock = new FileStream(Path.Combine(Directory, "LOCK"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"The spill directory {Directory} is in use by another process ({e.Message}).", e);
        }

        try
        {
            Recover();
        }
        catch
        {
            _directoryLock.Dispose();
            throw;
        }

        if (options.Fsync == SpillFsync.Interval)
        {
            _flusher = time.CreateTimer(static s => ((SpillLog)s!).FlushAndSync(), this, options.FsyncInterval, options.FsyncInterval);
        }
    }

    public string Directory { get; }

    public SpillOptions Options => _options;

    /// <summary>The checkpoint found at start-up (null: none, start at the first segment).</summary>
    public SpillCheckpoint? Recovered { get; private set; }

    /// <summary>Records in the spill that Kafka has not acknowledged yet.</summary>
    public long PendingRecords => Interlocked.Read(ref _pending);

    /// <summary>Bytes of all segment files, buffered bytes included.</summary>
    public long Bytes => Interlocked.Read(ref _totalBytes);

    public long Appended => Interlocked.Read(ref _appended);

    /// <summary>Appends that found the spill full.</summary>
    public long FullRefusals => Interlocked.Read(ref _full);

    public long WriteErrors => Interlocked.Read(ref _writeErrors);

    /// <summary>Records found damaged (bad length or checksum) in segments at start-up or while replaying.</summary>
    public long CorruptRecords => Interlocked.Read(ref _corruptRecords);

    /// <summary>Segments whose last record was cut short (a crash mid-write).</summary>
    public long TruncatedTails => Interlocked.Read(ref _truncatedTails);

    /// <summary>Bytes after a damaged or torn record that were not replayed.</summary>
    public long SkippedBytes => Interlocked.Read(ref _skippedBytes);

    public long SegmentsDeleted => Interlocked.Read(ref _segmentsDeleted);

    public long Fsyncs => Interlocked.Read(ref _fsyncs);

    public int SegmentCount
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>True from a refused append until the next one that fits.</summary>
    public bool IsFull => Volatile.Read(ref _isFull);

    /// <summary>True from a failed write until the next append that succeeds.</summary>
    public bool IsFailing => Volatile.Read(ref _isFailing);

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Lets appends in (the router is spilling).</summary>
    public void OpenForAppends()
    {
        lock (_gate)
        {
            _open = true;
        }
    }

    /// <summary>
    /// Appends one record at the tail. With <see cref="SpillFsync.Always"/> it is on disk when this returns;
    /// otherwise it is in the write buffer until the next flush (interval, buffer full, or <see cref="FlushAndSync"/>).
    /// </summary>
    public SpillAppendResult Append(in Admitted record)
    {
        int size = SpillFormat.EncodedLength(record);
        lock (_gate)
        {
            if (!_open)
            {
                return SpillAppendResult.Closed;
            }

            bool newSegment = _tail is null || _tail.Length + size > _segmentBytes;
            long needed = size + (newSegment ? SpillFormat.HeaderLength : 0);
            if (_totalBytes + needed > _options.MaxBytes)
            {
                Interlocked.Increment(ref _full);
                Volatile.Write(ref _isFull, true);
                return SpillAppendResult.Full;
            }

            try
            {
                if (newSegment)
                {
                    RollLocked();
                }

                Segment tail = _tail!;
                if (_options.Fsync == SpillFsync.Always)
                {
                    int length = SpillFormat.Write(record, _single);
                    RandomAccess.Write(tail.Handle!, _single.AsSpan(0, length), tail.Flushed);
                    RandomAccess.FlushToDisk(tail.Handle!);
                    Interlocked.Increment(ref _fsyncs);
                    tail.Length += length;
                    Volatile.Write(ref tail.Flushed, tail.Length);
                }
                else
                {
                    if (_buffered + size > _buffer.Length)
                    {
                        FlushBufferLocked();
                    }

                    if (size > _buffer.Length)
                    {
                        SpillFormat.Write(record, _single);
                        RandomAccess.Write(tail.Handle!, _single.AsSpan(0, size), tail.Flushed);
                        tail.Length += size;
                        Volatile.Write(ref tail.Flushed, tail.Length);
                    }
                    else
                    {
                        SpillFormat.Write(record, _buffer.AsSpan(_buffered));
                        _buffered += size;
                        tail.Length += size;
                    }
                }

                tail.Dirty = true;
            }
            catch (IOException e)
            {
                Interlocked.Increment(ref _writeErrors);
                Volatile.Write(ref _lastError, e.Message);
                Volatile.Write(ref _isFailing, true);
                LogWriteFailed(_log, Directory, e.Message);
                return SpillAppendResult.Failed;
            }

            Interlocked.Add(ref _totalBytes, needed);
            Interlocked.Increment(ref _pending);
            Interlocked.Increment(ref _appended);
            Volatile.Write(ref _isFull, false);
            Volatile.Write(ref _isFailing, false);
            return SpillAppendResult.Appended;
        }
    }

    /// <summary>Writes buffered records to the file and, unless the policy is <see cref="SpillFsync.Never"/>, fsyncs it.</summary>
    public void FlushAndSync()
    {
        Segment? dirty = null;
        SafeFileHandle? handle = null;
        bool referenced = false;
        lock (_gate)
        {
            if (_tail is null || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            try
            {
                FlushBufferLocked();
            }
            catch (IOException e)
            {
                Interlocked.Increment(ref _writeErrors);
                Volatile.Write(ref _lastError, e.Message);
                LogWriteFailed(_log, Directory, e.Message);
                return;
            }

            if (_options.Fsync != SpillFsync.Never && _tail.Dirty)
            {
                _tail.Dirty = false;
                dirty = _tail;

                // Keep the handle alive while fsync runs outside the lock (a roll or Close may seal the segment
                // meanwhile, which disposes the handle and clears the segment's reference: hold our own).
                handle = dirty.Handle!;
                handle.DangerousAddRef(ref referenced);
            }
        }

        if (handle is null)
        {
            return;
        }

        try
        {
            RandomAccess.FlushToDisk(handle);
            Interlocked.Increment(ref _fsyncs);
        }
        catch (IOException e)
        {
            Volatile.Write(ref _lastError, e.Message);
        }
        finally
        {
            if (referenced)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Called by the replayer when it has read everything written so far: when nothing is buffered either, the
    /// log closes for appends (the router delivers directly again), the tail is sealed, and the answer is true.
    /// Otherwise the buffer is written so the reader can go on, and the answer is false.
    /// </summary>
    public bool TryCloseWhenCaughtUp(SpillPosition reader, Action onClosed)
    {
        lock (_gate)
        {
            if (_buffered > 0)
            {
                try
                {
                    FlushBufferLocked();
                }
                catch (IOException e)
                {
                    Volatile.Write(ref _lastError, e.Message);
                }

                return false;
            }

            Segment? last = _segments.Count == 0 ? null : _segments[^1];
            bool caughtUp = last is null || reader.Segment > last.Id || (reader.Segment == last.Id && reader.Offset >= last.Length);
            if (!caughtUp)
            {
                return false;
            }

            _open = false;
            SealTailLocked();
            onClosed();
            return true;
        }
    }

    /// <summary>
    /// Records that everything before <paramref name="prefix"/>, and every record starting at one of
    /// <paramref name="done"/>, is acknowledged; <paramref name="newlyDone"/> records became done since the last
    /// commit. Saves the checkpoint, then deletes the segments wholly before the prefix.
    /// </summary>
    public void Commit(SpillPosition prefix, IReadOnlyList<SpillPosition> done, long newlyDone)
    {
        Interlocked.Add(ref _pending, -newlyDone);
        new SpillCheckpoint(prefix, done).Save(Directory);
        List<Segment>? gone = null;
        lock (_gate)
        {
            while (_segments.Count > 0 && _segments[0].Id < prefix.Segment && _segments[0] != _tail)
            {
                (gone ??= []).Add(_segments[0]);
                _segments.RemoveAt(0);
            }
        }

        foreach (Segment segment in gone ?? [])
        {
            segment.Handle?.Dispose();
            File.Delete(segment.Path);
            Interlocked.Add(ref _totalBytes, -segment.Length);
            Interlocked.Increment(ref _segmentsDeleted);
        }
    }

    /// <summary>Counts records of a segment the reader found damaged after start-up (disk trouble).</summary>
    public void CountCorrupt(long skippedBytes, long lostRecords)
    {
        Interlocked.Increment(ref _corruptRecords);
        Interlocked.Add(ref _skippedBytes, skippedBytes);
        Interlocked.Add(ref _pending, -lostRecords);
    }

    /// <summary>The first segment whose id is at least <paramref name="id"/>, or null.</summary>
    internal Segment? SegmentAtOrAfter(long id)
    {
        lock (_gate)
        {
            foreach (Segment segment in _segments)
            {
                if (segment.Id >= id)
                {
                    return segment;
                }
            }

            return null;
        }
    }

    /// <summary>Bytes of <paramref name="segment"/> the reader may read, and whether it will never grow.</summary>
    internal long ReadableEnd(Segment segment, out bool sealedSegment)
    {
        lock (_gate)
        {
            sealedSegment = segment != _tail;
            return sealedSegment ? segment.Valid : segment.Flushed;
        }
    }

    /// <summary>Seals the tail and writes and fsyncs everything (shutdown).</summary>
    public void Close()
    {
        lock (_gate)
        {
            _open = false;
            try
            {
                SealTailLocked();
            }
            catch (IOException e)
            {
                Volatile.Write(ref _lastError, e.Message);
                LogWriteFailed(_log, Directory, e.Message);
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _flusher?.Dispose();
        Close();
        lock (_gate)
        {
            foreach (Segment segment in _segments)
            {
                segment.Handle?.Dispose();
            }
        }

        _directoryLock.Dispose();
    }

    private void FlushBufferLocked()
    {
        if (_buffered == 0 || _tail is null)
        {
            return;
        }

        RandomAccess.Write(_tail.Handle!, _buffer.AsSpan(0, _buffered), _tail.Flushed);
        Volatile.Write(ref _tail.Flushed, _tail.Flushed + _buffered);
        _buffered = 0;
    }

    private void RollLocked()
    {
        SealTailLocked();
        long id = _nextId++;
        string path = SegmentPath(id);
        SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        RandomAccess.Write(handle, SpillFormat.Magic, 0);
        var segment = new Segment(id, path) { Handle = handle, Length = SpillFormat.HeaderLength, Flushed = SpillFormat.HeaderLength, Dirty = true };
        _segments.Add(segment);
        _tail = segment;
    }

    private void SealTailLocked()
    {
        if (_tail is null)
        {
            return;
        }

        FlushBufferLocked();
        if (_options.Fsync != SpillFsync.Never && _tail.Dirty)
        {
            RandomAccess.FlushToDisk(_tail.Handle!);
            Interlocked.Increment(ref _fsyncs);
        }

        _tail.Dirty = false;
        _tail.Valid = _tail.Length;
        _tail.Handle!.Dispose();
        _tail.Handle = null;
        _tail = null;
    }

    private string SegmentPath(long id) => Path.Combine(Directory, id.ToString("D16", CultureInfo.InvariantCulture) + SegmentExtension);

    /// <summary>Start-up: read the checkpoint, drop finished segments, scan the others and count what they hold.</summary>
    private void Recover()
    {
        Recovered = SpillCheckpoint.Load(Directory, out string? problem);
        if (problem is not null)
        {
            LogCheckpointDamaged(_log, problem);
        }

        SpillPosition prefix = Recovered?.Prefix ?? new SpillPosition(0, 0);
        var done = new HashSet<SpillPosition>(Recovered?.Done ?? []);
        var files = new List<(long Id, string Path)>();
        foreach (string path in System.IO.Directory.EnumerateFiles(Directory, "*" + SegmentExtension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out long id))
            {
                files.Add((id, path));
            }
        }

        files.Sort((a, b) => a.Id.CompareTo(b.Id));
        long maxId = 0;
        foreach ((long id, string path) in files)
        {
            maxId = Math.Max(maxId, id);
            if (id < prefix.Segment)
            {
                File.Delete(path);   // acknowledged; the crash came between the checkpoint and the delete
                continue;
            }

            var segment = new Segment(id, path);
            ScanResult scan = Scan(path, id == prefix.Segment ? prefix.Offset : 0, done);
            segment.Length = new FileInfo(path).Length;
            segment.Valid = scan.ValidLength;
            segment.Flushed = scan.ValidLength;
            _segments.Add(segment);
            _totalBytes += segment.Length;
            _pending += scan.Pending;
            if (scan.Status != SpillReadStatus.Record)
            {
                long skipped = segment.Length - scan.ValidLength;
                _skippedBytes += skipped;
                if (scan.Status == SpillReadStatus.Corrupt)
                {
                    _corruptRecords++;
                }
                else
                {
                    _truncatedTails++;
                }

                LogDamagedSegment(_log, path, scan.Status == SpillReadStatus.Corrupt ? "a corrupt record" : "a torn last record", scan.ValidLength, skipped);
            }
        }

        _nextId = Math.Max(Math.Max(maxId + 1, prefix.Segment), 1);
        if (_segments.Count > 0)
        {
            LogRecovered(_log, Directory, _segments.Count, _pending, _totalBytes);
        }
    }

    private readonly record struct ScanResult(long ValidLength, long Pending, SpillReadStatus Status);

    /// <summary>Reads a whole segment: where its valid records end, how many are still pending, and how it ends.</summary>
    private static ScanResult Scan(string path, long from, HashSet<SpillPosition> done)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long fileLength = RandomAccess.GetLength(handle);
        Span<byte> magic = stackalloc byte[SpillFormat.HeaderLength];
        if (fileLength < SpillFormat.HeaderLength || RandomAccess.Read(handle, magic, 0) != magic.Length || !magic.SequenceEqual(SpillFormat.Magic))
        {
            return new ScanResult(Math.Min(fileLength, SpillFormat.HeaderLength), 0, fileLength < SpillFormat.HeaderLength ? SpillReadStatus.Incomplete : SpillReadStatus.Corrupt);
        }

        long id = long.Parse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture);
        byte[] buffer = new byte[1 << 20];
        long offset = SpillFormat.HeaderLength;   // file offset of buffer[start]
        int start = 0, end = 0;
        long pending = 0;
        while (true)
        {
            SpillReadStatus status = SpillFormat.TryRead(buffer.AsSpan(start, end - start), out _, out int length);
            if (status == SpillReadStatus.Record)
            {
                if (offset >= from && !done.Contains(new SpillPosition(id, offset)))
                {
                    pending++;
                }

                offset += length;
                start += length;
                continue;
            }

            if (status == SpillReadStatus.Corrupt)
            {
                return new ScanResult(offset, pending, SpillReadStatus.Corrupt);
            }

            long fileOffset = offset + (end - start);
            if (fileOffset >= fileLength)
            {
                return new ScanResult(offset, pending, end == start ? SpillReadStatus.Record : SpillReadStatus.Incomplete);
            }

            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            int read = RandomAccess.Read(handle, buffer.AsSpan(end), fileOffset);
            if (read <= 0)
            {
                return new ScanResult(offset, pending, SpillReadStatus.Incomplete);
            }

            end += read;
        }
    }

    /// <summary>One segment file. Fields are guarded by the log's lock except <see cref="Flushed"/>, which the reader reads.</summary>
    internal sealed class Segment(long id, string path)
    {
        public readonly long Id = id;
        public readonly string Path = path;
        public SafeFileHandle? Handle;

        /// <summary>Bytes in the file plus bytes still in the write buffer.</summary>
        public long Length;

        /// <summary>Bytes handed to the OS: what a reader may read of the tail.</summary>
        public long Flushed;

        /// <summary>For a sealed segment: where its last valid record ends.</summary>
        public long Valid;

        public bool Dirty;
    }

    [LoggerMessage(EventId = EventIds.SpillRecovered, Level = LogLevel.Warning, Message = "Spill {Directory}: {Segments} segment(s) from an earlier run hold {Records} records ({Bytes} bytes) not yet acknowledged by Kafka; they are replayed first")]
    private static partial void LogRecovered(ILogger logger, string directory, int segments, long records, long bytes);

    [LoggerMessage(EventId = EventIds.SpillDamaged, Level = LogLevel.Warning, Message = "Spill segment {Path} ends with {What} at byte {ValidLength}; the {Skipped} bytes after it are skipped")]
    private static partial void LogDamagedSegment(ILogger logger, string path, string what, long validLength, long skipped);

    [LoggerMessage(EventId = EventIds.SpillCheckpointDamaged, Level = LogLevel.Warning, Message = "Spill checkpoint unusable ({Problem}): replaying every segment from its start; records Kafka had already acknowledged may be sent again")]
    private static partial void LogCheckpointDamaged(ILogger logger, string problem);

    [LoggerMessage(EventId = EventIds.SpillWriteFailed, Level = LogLevel.Error, Message = "Spill {Directory}: write failed: {Error}")]
    private static partial void LogWriteFailed(ILogger logger, string directory, string error);
}
