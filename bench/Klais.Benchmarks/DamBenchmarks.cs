using System.Diagnostics;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Klais.Edge.Dam;

namespace Klais.Benchmarks;

/// <summary>
/// Dam.Offer on the pass path against .NET's TokenBucketRateLimiter with equivalent settings (tokens never
/// run out). 64 operations per invoke: one recvmmsg batch, so the batch overload reads the clock once.
/// </summary>
[MemoryDiagnoser]
public class DamBenchmarks
{
    private const int Batch = 64;

    private readonly byte[] _deviceId = "sensor-00042"u8.ToArray();
    private readonly byte[] _payload = new byte[60];
    private CountingSink _sink = null!;
    private Dam _dam = null!;
    private Dam _queueDam = null!;
    private TokenBucketRateLimiter _limiter = null!;

    [GlobalSetup]
    public void Setup()
    {
        _sink = new CountingSink();

        // 1e9/s and a 2^40 burst: about a trillion tokens, more than any run takes.
        _dam = new Dam(new DamOptions { MaxRate = DamOptions.MaxRateLimit, BurstSize = DamOptions.MaxBurstLimit }, _sink, TimeProvider.System);
        _queueDam = new Dam(new DamOptions { MaxRate = 1, BurstSize = 1, QueueMaxMessages = Batch * 2, QueueMaxBytes = 1 << 20 }, _sink, TimeProvider.System);
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = int.MaxValue,
            TokensPerPeriod = int.MaxValue,
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dam.Dispose();
        _queueDam.Dispose();
        _limiter.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int TokenBucketRateLimiter_AttemptAcquire()
    {
        int acquired = 0;
        for (int i = 0; i < Batch; i++)
        {
            using RateLimitLease lease = _limiter.AttemptAcquire(1);
            acquired += lease.IsAcquired ? 1 : 0;
        }

        return acquired;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Dam_Offer_clock_per_record()
    {
        int passed = 0;
        for (uint i = 0; i < Batch; i++)
        {
            passed += _dam.Offer(new Admitted(_deviceId, i, _payload, 0)) == DamOutcome.Passed ? 1 : 0;
        }

        return passed;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Dam_Offer_batch_timestamp()
    {
        int passed = 0;
        long stamp = Stopwatch.GetTimestamp();
        for (uint i = 0; i < Batch; i++)
        {
            passed += _dam.Offer(new Admitted(_deviceId, i, _payload, 0), stamp) == DamOutcome.Passed ? 1 : 0;
        }

        return passed;
    }

    /// <summary>Queue path: 64 records copied into the ring (no tokens), then delivered by DrainAll.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public bool Dam_queue_then_drain()
    {
        for (uint i = 0; i < Batch; i++)
        {
            _queueDam.Offer(new Admitted(_deviceId, i, _payload, 0));
        }

        return _queueDam.DrainAll(TimeSpan.FromSeconds(1));
    }
}

/// <summary>A sink that only counts: measures the Dam, not Kafka.</summary>
internal sealed class CountingSink : IDamSink
{
    public long Count { get; private set; }

    public bool TryDeliver(in Admitted record)
    {
        Count++;
        return true;
    }
}
