using Google.Protobuf.Collections;
using Klais.Contracts.Proto;

namespace Klais.Grains.Turns;

/// <summary>The last sequence a grain saw per source: what makes handling a replayed record a no-op.</summary>
internal static class Sequences
{
    /// <summary>A grain remembers this many sources; past it, the one heard from longest ago is forgotten.</summary>
    public const int MaxSources = 64;

    /// <summary>True (and remembered) when <paramref name="sequence"/> is new for <paramref name="source"/>; false for a replay.</summary>
    public static bool Accept(RepeatedField<EdgeSequence> seen, string source, ulong sequence)
    {
        for (int i = 0; i < seen.Count; i++)
        {
            if (seen[i].SourceId == source)
            {
                if (sequence <= seen[i].Sequence)
                {
                    return false;
                }

                seen[i].Sequence = sequence;
                return true;
            }
        }

        if (seen.Count >= MaxSources)
        {
            int oldest = 0;
            for (int i = 1; i < seen.Count; i++)
            {
                if (seen[i].Sequence < seen[oldest].Sequence)
                {
                    oldest = i;
                }
            }

            seen.RemoveAt(oldest);
        }

        seen.Add(new EdgeSequence { SourceId = source, Sequence = sequence });
        return true;
    }
}
