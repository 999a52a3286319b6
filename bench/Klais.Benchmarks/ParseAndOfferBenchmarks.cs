using System.Diagnostics;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Klais.Contracts.Wire;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;

namespace Klais.Benchmarks;

/// <summary>
/// The receive path's per-datagram work up to the sink: parse (JSON validated) and Dam.Offer with the
/// batch timestamp, for a realistic datagram of 22 header bytes and a 60-byte JSON payload.
/// The allocation budget is zero.
/// </summary>
[MemoryDiagnoser]
public class ParseAndOfferBenchmarks
{
    private const int Batch = 64;

    private readonly byte[] _datagram = new byte[Datagram.HeaderLength + 60];
    private Dam _dam = null!;
    private DedupeTable _dedupe = null!;
    private uint _sequence;

    [GlobalSetup]
    public void Setup()
    {
        byte[] payload = """{"t":21.53,"h":48.2,"p":1013.2,"bat":3.71,"ok":true,"n":123}"""u8.ToArray();
        if (payload.Length != 60)
        {
            throw new InvalidOperationException($"The payload must be 60 bytes; it is {payload.Length}.");
        }

        Datagram.Write(_datagram, "sensor-00042"u8, 7, payload);
        _dam = new Dam(new DamOptions { MaxRate = DamOptions.MaxRateLimit, BurstSize = DamOptions.MaxBurstLimit }, new CountingSink(), TimeProvider.System);
        _dedupe = new DedupeTable(new DedupeOptions(), TimeProvider.System);
    }

    [GlobalCleanup]
    public void Cleanup() => _dam.Dispose();

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Parse_and_offer() => ParseAndOffer(withDedupe: false);

    /// <summary>The edge's pipeline since the dedupe issue: parse, dedupe check (a new sequence each time, one of 1,000 devices), Dam.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Parse_dedupe_and_offer() => ParseAndOffer(withDedupe: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ParseAndOffer(bool withDedupe)
    {
        int passed = 0;
        long stamp = Stopwatch.GetTimestamp();
        for (int i = 0; i < Batch; i++)
        {
            ReadOnlySpan<byte> datagram = _datagram;
            if (Datagram.TryParse(datagram, 1024, validateJson: true, out DatagramHeader header, out ReadOnlySpan<byte> payload) != Rejection.None)
            {
                continue;
            }

            uint sequence = _sequence++;
            if (withDedupe && _dedupe.Check(header.DeviceKey + (sequence % 1000), sequence / 1000, stamp) != DedupeVerdict.New)
            {
                continue;
            }

            var record = new Admitted(Datagram.DeviceIdText(datagram, header), header.Sequence, payload, 0);
            passed += _dam.Offer(record, stamp) == DamOutcome.Passed ? 1 : 0;
        }

        return passed;
    }
}
