namespace Klais.Learning.Burst;

/// <summary>
/// The last <see cref="BurstFeatures.WindowSeconds"/> fleet samples for a live caller (the swarm grain), kept
/// contiguous so <see cref="BurstFeatures.Write"/> reads them as one span. Add one sample a second; a caller that
/// missed seconds repeats the last sample for them. Not thread-safe: one owner.
/// </summary>
public sealed class FleetHistory
{
    private const int Window = BurstFeatures.WindowSeconds;

    // Twice the window: samples are appended until the end, then the newest Window-1 move to the front, so the
    // copy happens once every Window+1 samples instead of a shift per sample.
    private readonly FleetSample[] _samples = new FleetSample[2 * Window];
    private int _end;

    /// <summary>Samples held, at most <see cref="BurstFeatures.WindowSeconds"/>.</summary>
    public int Count => Math.Min(_end, Window);

    /// <summary>True once a full window is held and <see cref="TryWriteFeatures"/> can answer.</summary>
    public bool IsFull => _end >= Window;

    public void Add(FleetSample sample)
    {
        if (_end == _samples.Length)
        {
            Array.Copy(_samples, _end - (Window - 1), _samples, 0, Window - 1);
            _end = Window - 1;
        }

        _samples[_end++] = sample;
    }

    public void Clear() => _end = 0;

    /// <summary>The feature row for the newest sample; false until a full window is held.</summary>
    public bool TryWriteFeatures(Span<float> features)
    {
        if (!IsFull)
        {
            return false;
        }

        BurstFeatures.Write(_samples.AsSpan(_end - Window, Window), features);
        return true;
    }
}
