namespace Klais.Grains.History;

/// <summary>
/// The fleet's top talkers: each silo's latest list of its busiest devices (a device's reports go to one silo,
/// its partition's owner), merged; a list older than <see cref="MaxAge"/> (its silo stopped or lost the partitions) is left out.
/// </summary>
internal sealed class BusiestDevices
{
    /// <summary>Devices listed.</summary>
    public const int Count = 20;

    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, (DateTimeOffset At, IReadOnlyList<DeviceRate> Busiest)> _silos = new(StringComparer.Ordinal);

    public void Contribute(string siloId, DateTimeOffset at, IReadOnlyList<DeviceRate> busiest)
    {
        if (!_silos.TryGetValue(siloId, out var known) || known.At < at)
        {
            _silos[siloId] = (at, busiest);
        }
    }

    public IReadOnlyList<DeviceRate> Top(DateTimeOffset now) => _silos.Values
        .Where(s => now - s.At <= MaxAge)
        .SelectMany(s => s.Busiest)
        .GroupBy(d => d.DeviceId, StringComparer.Ordinal)
        .Select(g => new DeviceRate(g.Key, g.Sum(d => d.PacketsPerSecond), g.Sum(d => d.BytesPerSecond)))
        .OrderByDescending(d => d.PacketsPerSecond).ThenBy(d => d.DeviceId, StringComparer.Ordinal)
        .Take(Count).ToList();
}
