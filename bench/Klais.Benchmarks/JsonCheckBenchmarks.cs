using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Klais.Contracts.Wire;

namespace Klais.Benchmarks;

/// <summary>
/// The payload check on the receive thread: <see cref="JsonSyntax"/> against the reader it replaced
/// (<see cref="Utf8JsonReader"/> read to the end, the baseline), on the two payloads the benchmarks send: the
/// sensor reading of the per-datagram benchmarks and the padded object of the bench's C sender.
/// </summary>
[MemoryDiagnoser]
public class JsonCheckBenchmarks
{
    private byte[] _json = null!;

    [Params("reading", "padded")]
    public string Payload { get; set; } = "reading";

    [GlobalSetup]
    public void Setup() => _json = Payload == "reading"
        ? """{"t":21.53,"h":48.2,"p":1013.2,"bat":3.71,"ok":true,"n":123}"""u8.ToArray()
        : """{"v":1,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"""u8.ToArray();

    [Benchmark(Baseline = true)]
    public bool Utf8JsonReader_to_the_end()
    {
        var reader = new Utf8JsonReader(_json, new JsonReaderOptions { MaxDepth = JsonSyntax.MaxDepth });
        try
        {
            while (reader.Read())
            {
            }

            return reader.BytesConsumed == _json.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Benchmark]
    public bool JsonSyntax_IsValid() => JsonSyntax.IsValid(_json);
}
