using Klais.Edge.Dam;
using Microsoft.Win32.SafeHandles;

namespace Klais.Edge.Spill;

/// <summary>
/// Reads the spill in order, from a position, skipping records already acknowledged out of order. One reader per
/// log (the replayer); it reads only bytes the writer has handed to the OS, so it never sees a partial record of
/// the live tail. Records returned point into the reader's buffer and are valid until the next call.
/// </summary>
internal sealed class SpillReader : IDisposable
{
    /// <summary>1 MiB reads: about 11,000 records of 90 bytes per system call.</summary>
    private const int BufferBytes = 1 << 20;

    private readonly SpillLog _log;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferBytes);
    private readonly Queue<SpillPosition> _skip = new();
    private SpillLog.Segment? _segment;
    private SafeFileHandle? _handle;
    private SpillPosition _position;
    private int _start;
    private int _end;
    private int _lastLength;

    public SpillReader(SpillLog log)
    {
        _log = log;
        SpillCheckpoint? recovered = log.Recovered;
        Seek(recovered?.Prefix ?? new SpillPosition(0, 0), recovered?.Done ?? []);
    }

    /// <summary>Records ahead of the reader that the checkpoint listed as done and it has not passed yet, ascending.</summary>
    public IEnumerable<SpillPosition> PendingSkips => _skip;

    /// <summary>Where the next record is read from.</summary>
    public SpillPosition Position => _position;

    /// <summary>Starts over at <paramref name="position"/>; records at <paramref name="skip"/> (ascending) are passed over.</summary>
    public void Seek(SpillPosition position, IEnumerable<SpillPosition> skip)
    {
        CloseSegment();
        _position = position;
        _skip.Clear();
        foreach (SpillPosition p in skip)
        {
            _skip.Enqueue(p);
        }
    }

    /// <summary>
    /// The next record and where it starts; false when everything readable has been read (more may come later).
    /// <paramref name="alreadyDone"/> marks a record the checkpoint lists as acknowledged: not to be sent again, but
    /// the caller still accounts for its position.
    /// </summary>
    public bool TryRead(out Admitted record, out SpillPosition position, out bool alreadyDone)
    {
        alreadyDone = false;
        while (true)
        {
            if (_segment is null && !OpenSegment())
            {
                record = default;
                position = default;
                return false;
            }

            SpillReadStatus status = SpillFormat.TryRead(_buffer.AsSpan(_start, _end - _start), out record, out int length);
            if (status == SpillReadStatus.Record)
            {
                position = _position;
                _position = new SpillPosition(_position.Segment, _position.Offset + length);
                _start += length;
                _lastLength = length;
                alreadyDone = Skip(position);
                return true;
            }

            long readable = _log.ReadableEnd(_segment!, out bool sealedSegment);
            long bufferedUpTo = _position.Offset + (_end - _start);
            if (status == SpillReadStatus.Incomplete && bufferedUpTo < readable)
            {
                Fill(readable);
                continue;
            }

            if (!sealedSegment)
            {
                position = default;
                return false;   // caught up with the live tail
            }

            if (status == SpillReadStatus.Corrupt || bufferedUpTo > _position.Offset)
            {
                // Damaged after the start-up scan (disk trouble): count it and go on with the next segment.
                _log.CountCorrupt(readable - _position.Offset, 0);
            }

            NextSegment();
        }
    }

    /// <summary>Un-reads the record the last <see cref="TryRead"/> returned (the producer could not take it yet).</summary>
    public void PushBack()
    {
        if (_lastLength == 0 || _start < _lastLength)
        {
            throw new InvalidOperationException("Only the record just read can be pushed back.");
        }

        _start -= _lastLength;
        _position = new SpillPosition(_position.Segment, _position.Offset - _lastLength);
        _lastLength = 0;
    }

    public void Dispose() => CloseSegment();

    private bool Skip(SpillPosition position)
    {
        while (_skip.Count > 0 && _skip.Peek() < position)
        {
            _skip.Dequeue();
        }

        if (_skip.Count > 0 && _skip.Peek() == position)
        {
            _skip.Dequeue();
            return true;
        }

        return false;
    }

    private bool OpenSegment()
    {
        SpillLog.Segment? segment = _log.SegmentAtOrAfter(_position.Segment);
        if (segment is null)
        {
            return false;
        }

        if (segment.Id != _position.Segment || _position.Offset < SpillFormat.HeaderLength)
        {
            _position = new SpillPosition(segment.Id, SpillFormat.HeaderLength);
        }

        try
        {
            _handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            _position = new SpillPosition(segment.Id + 1, SpillFormat.HeaderLength);
            return false;
        }

        _segment = segment;
        _start = _end = 0;
        return true;
    }

    private void Fill(long readable)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
            _lastLength = 0;
        }

        long fileOffset = _position.Offset + _end;
        int want = (int)Math.Min(_buffer.Length - _end, readable - fileOffset);
        int read = RandomAccess.Read(_handle!, _buffer.AsSpan(_end, want), fileOffset);
        if (read > 0)
        {
            _end += read;
        }
    }

    private void NextSegment()
    {
        long next = _segment!.Id + 1;
        CloseSegment();
        _position = new SpillPosition(next, SpillFormat.HeaderLength);
    }

    private void CloseSegment()
    {
        _handle?.Dispose();
        _handle = null;
        _segment = null;
        _start = _end = 0;
        _lastLength = 0;
    }
}
