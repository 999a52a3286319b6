using Klais.Learning.Outliers;

namespace Klais.Grains.Index;

/// <summary>
/// The outlier index's decisions, as a plain class: the shard's recent device vectors in a ring of
/// <see cref="Capacity"/> rows (its "recent history"), an <see cref="IsolationForest"/> fitted on them every
/// <see cref="RefitInterval"/> once at least <see cref="MinDevices"/> distinct devices have been seen (a fleet model
/// needs a fleet: a small test fleet never gets one), and sooner while the history is still filling (whenever it has
/// doubled since the last fit: a first forest fitted on the first 200 devices' first windows knows little of the
/// fleet), and the score of each vector observed. Deterministic: the forest's
/// seed is fixed. Not thread-safe: one grain owns it.
/// </summary>
internal sealed class FleetOutliers(TimeSpan refitInterval)
{
    /// <summary>Rows of recent history the forest is fitted on: 16 × its subsample of 256.</summary>
    public const int Capacity = 4096;

    /// <summary>Distinct devices the shard must have seen before it fits a forest.</summary>
    public const int MinDevices = 200;

    /// <summary>Devices remembered as seen; past it the count stops growing (it only gates the first fit).</summary>
    private const int MaxTracked = 100_000;

    private readonly float[] _rows = new float[Capacity * DeviceFeatures.Count];
    private readonly HashSet<string> _devices = new(StringComparer.Ordinal);
    private int _count;
    private int _next;
    private int _rowsAtFit;

    public TimeSpan RefitInterval { get; } = refitInterval;

    public IsolationForest? Forest { get; private set; }

    public DateTimeOffset? FittedAt { get; private set; }

    public int Rows => _count;

    public int Devices => _devices.Count;

    /// <summary>
    /// Adds the device's vector to the recent history, refits the forest when it is due, and returns the vector's score,
    /// or null while there is no forest. A vector of the wrong length or with non-finite values is refused (false).
    /// </summary>
    public bool TryObserve(string deviceId, ReadOnlySpan<float> features, DateTimeOffset now, out double? score)
    {
        score = null;
        if (features.Length != DeviceFeatures.Count)
        {
            return false;
        }

        foreach (float f in features)
        {
            if (!float.IsFinite(f))
            {
                return false;
            }
        }

        features.CopyTo(_rows.AsSpan(_next * DeviceFeatures.Count, DeviceFeatures.Count));
        _next = (_next + 1) % Capacity;
        _count = Math.Min(_count + 1, Capacity);
        if (_devices.Count < MaxTracked)
        {
            _devices.Add(deviceId);
        }

        if (_devices.Count >= MinDevices && (FittedAt is null || now - FittedAt >= RefitInterval || _count >= 2 * _rowsAtFit))
        {
            Forest = IsolationForest.Fit(_rows.AsSpan(0, _count * DeviceFeatures.Count), DeviceFeatures.Count, trees: 100, sampleSize: 256, seed: 1);
            FittedAt = now;
            _rowsAtFit = _count;
        }

        score = Forest?.Score(features);
        return true;
    }
}
