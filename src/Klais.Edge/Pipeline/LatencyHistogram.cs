using System.Diagnostics;
using System.Numerics;

namespace Klais.Edge.Pipeline;

/// <summary>
/// Log-linear histogram of durations in nanoseconds: 8 linear buckets of 32 ns, then 8 sub-buckets per power
/// of two (relative error at most 12.5%), up to about 2^40 ns (18 minutes). Recording is one Interlocked
/// increment; reading is a scan of 264 counters, done only when someone asks.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 8;
    private const int MaxExponent = 40;
    private const int BucketCount = SubBuckets + (MaxExponent - 8 + 1) * SubBuckets;

    private static readonly double NanosPerTick = 1e9 / Stopwatch.Frequency;

    private readonly long[] _buckets = new long[BucketCount];
    private long _sumNanos;

    public void RecordTicks(long ticks) => RecordNanos((long)(ticks * NanosPerTick));

    /// <summary>Records <paramref name="count"/> samples of the same duration (a receive batch's datagrams) in one step.</summary>
    public void RecordTicks(long ticks, int count) => RecordNanos((long)(ticks * NanosPerTick), count);

    public void RecordNanos(long nanos, int count = 1)
    {
        if (nanos < 0)
        {
            nanos = 0;
        }

        Interlocked.Add(ref _buckets[Index(nanos)], count);
        Interlocked.Add(ref _sumNanos, nanos * count);
    }

    public long Count
    {
        get
        {
            long count = 0;
            for (int i = 0; i < BucketCount; i++)
            {
                count += Volatile.Read(ref _buckets[i]);
            }

            return count;
        }
    }

    public double SumSeconds => Volatile.Read(ref _sumNanos) / 1e9;

    /// <summary>Upper bound, in nanoseconds, of the bucket holding the given quantile (0..1); 0 when empty.</summary>
    public long QuantileNanos(double quantile)
    {
        long[] snapshot = new long[BucketCount];
        long total = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            snapshot[i] = Volatile.Read(ref _buckets[i]);
            total += snapshot[i];
        }

        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            seen += snapshot[i];
            if (seen >= rank)
            {
                return UpperBound(i);
            }
        }

        return UpperBound(BucketCount - 1);
    }

    internal static int Index(long nanos)
    {
        if (nanos < 256)
        {
            return (int)(nanos >> 5);
        }

        int exponent = 63 - BitOperations.LeadingZeroCount((ulong)nanos);
        if (exponent > MaxExponent)
        {
            return BucketCount - 1;
        }

        int sub = (int)(nanos >> (exponent - 3)) & (SubBuckets - 1);
        return SubBuckets + (exponent - 8) * SubBuckets + sub;
    }

    internal static long UpperBound(int index)
    {
        if (index < SubBuckets)
        {
            return (index + 1) * 32L;
        }

        int exponent = 8 + (index - SubBuckets) / SubBuckets;
        int sub = (index - SubBuckets) % SubBuckets;
        return (long)(SubBuckets + sub + 1) << (exponent - 3);
    }
}
