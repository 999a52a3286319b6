using Klais.Contracts.Wire;

namespace Klais.Edge.Pipeline;

/// <summary>One counter per <see cref="Rejection"/> reason. Rejections are the rare path; one Interlocked add each.</summary>
internal sealed class RejectionCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<Rejection>().Length];

    public void Increment(Rejection reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public long this[Rejection reason] => Volatile.Read(ref _counts[(int)reason]);
}
