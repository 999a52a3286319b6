namespace Klais.LoadGen;

/// <summary>What one generated datagram is.</summary>
internal enum DatagramKind
{
    Valid,
    Replay,
    TooShort,
    BadMagic,
    BadDeviceId,
    InvalidJson,
}

/// <summary>
/// Decides the kind of each datagram so that the counts are known in advance, not random. Shares are taken in
/// millionths. After n datagrams, with b and r the bad and replay shares:
/// special = ⌊n(b+r)⌋, bad = ⌊special·b/(b+r)⌋, replayed = special − bad (so exactly n·b and n·r when both are whole),
/// and bad datagram k (from 0) breaks rule k mod 4 in the order too short, bad magic, bad device id, invalid JSON.
/// Specials are spread evenly over the run.
/// </summary>
internal sealed class TrafficMix
{
    private const long Scale = 1_000_000;
    private static readonly DatagramKind[] BadKinds =
        [DatagramKind.TooShort, DatagramKind.BadMagic, DatagramKind.BadDeviceId, DatagramKind.InvalidJson];

    private readonly long _bad;
    private readonly long _special;
    private long _index;
    private long _specials;
    private long _bads;

    public TrafficMix(double badShare, double replayShare)
    {
        _bad = (long)Math.Round(badShare * Scale);
        _special = _bad + (long)Math.Round(replayShare * Scale);
        if (_bad < 0 || _special > Scale)
        {
            throw new ArgumentOutOfRangeException(nameof(badShare), "Shares are between 0 and 1 and sum to at most 1.");
        }
    }

    /// <summary>The kind of the next datagram.</summary>
    public DatagramKind Next()
    {
        _index++;
        long specials = _index * _special / Scale;
        if (specials == _specials)
        {
            return DatagramKind.Valid;
        }

        _specials = specials;
        long bads = specials * _bad / _special;
        if (bads == _bads)
        {
            return DatagramKind.Replay;
        }

        _bads = bads;
        return BadKinds[(bads - 1) % BadKinds.Length];
    }
}
