using Klais.Contracts.Wire;

namespace Klais.Edge.Pipeline;

/// <summary>One counter per <see cref="Rejection"/> reason. Rejections are the rare path; one Interlocked add each.</summary>
internal sealed class RejectionCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<Rejection>().Length];

    public void Increment(Rejection reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public void Add(Rejection reason, long count) => Interlocked.Add(ref _counts[(int)reason], count);

    public long this[Rejection reason] => Volatile.Read(ref _counts[(int)reason]);

    public long Total
    {
        get
        {
            long total = 0;
            foreach (Rejection r in RejectionNames.All)
            {
                total += this[r];
            }

            return total;
        }
    }
}
