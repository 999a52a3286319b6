using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Klais.Contracts.Wire;

namespace Klais.Contracts.Tests.Wire;

public sealed class DatagramTests
{
    private const int MaxPayload = 1024;

    private static byte[] Valid(string id = "dev-000001", uint sequence = 42, string payload = """{"t":21.5}""")
    {
        byte[] buffer = new byte[Datagram.HeaderLength + Encoding.UTF8.GetByteCount(payload)];
        Datagram.Write(buffer, Encoding.UTF8.GetBytes(id), sequence, Encoding.UTF8.GetBytes(payload));
        return buffer;
    }

    private static Rejection Parse(byte[] datagram, bool json = true) =>
        Datagram.TryParse(datagram, MaxPayload, json, out _, out _);

    [Fact]
    public void Parses_a_valid_datagram()
    {
        byte[] datagram = Valid(sequence: 0xDEADBEEF);

        Rejection result = Datagram.TryParse(datagram, MaxPayload, true, out DatagramHeader header, out ReadOnlySpan<byte> payload);

        Assert.Equal(Rejection.None, result);
        Assert.Equal(0xDEADBEEFu, header.Sequence);
        Assert.Equal("dev-000001", Encoding.UTF8.GetString(Datagram.DeviceIdText(datagram, header)));
        Assert.Equal("""{"t":21.5}""", Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void Accepts_an_id_that_fills_all_16_bytes()
    {
        Assert.Equal(Rejection.None, Parse(Valid(id: "0123456789abcdef")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(21)]
    public void Rejects_datagram_shorter_than_the_header(int length)
    {
        Assert.Equal(Rejection.TooShort, Parse(Valid()[..length]));
    }

    [Fact]
    public void Header_only_datagram_with_empty_payload_is_not_json()
    {
        byte[] datagram = Valid()[..Datagram.HeaderLength];

        Assert.Equal(Rejection.InvalidJson, Parse(datagram));
        Assert.Equal(Rejection.None, Parse(datagram, json: false));
    }

    [Theory]
    [InlineData(0x55AA)]
    [InlineData(0x0000)]
    [InlineData(0xAA54)]
    public void Rejects_bad_magic(int magic)
    {
        byte[] datagram = Valid();
        BinaryPrimitives.WriteUInt16BigEndian(datagram, (ushort)magic);

        Assert.Equal(Rejection.BadMagic, Parse(datagram));
    }

    [Fact]
    public void Rejects_empty_device_id()
    {
        byte[] datagram = Valid();
        datagram.AsSpan(Datagram.DeviceIdOffset, Datagram.DeviceIdLength).Clear();

        Assert.Equal(Rejection.BadDeviceId, Parse(datagram));
    }

    [Fact]
    public void Rejects_device_id_with_bytes_after_the_padding_starts()
    {
        byte[] datagram = Valid(id: "abc");
        datagram[Datagram.DeviceIdOffset + 10] = (byte)'x';

        Assert.Equal(Rejection.BadDeviceId, Parse(datagram));
    }

    [Fact]
    public void Rejects_device_id_that_is_not_utf8()
    {
        byte[] datagram = Valid(id: "abc");
        datagram[Datagram.DeviceIdOffset + 1] = 0xFF;

        Assert.Equal(Rejection.BadDeviceId, Parse(datagram));
    }

    [Fact]
    public void Rejects_payload_over_the_limit_and_accepts_exactly_the_limit()
    {
        string atLimit = "\"" + new string('x', MaxPayload - 2) + "\"";
        string over = "\"" + new string('x', MaxPayload - 1) + "\"";

        Assert.Equal(Rejection.None, Parse(Valid(payload: atLimit)));
        Assert.Equal(Rejection.PayloadTooLarge, Parse(Valid(payload: over)));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"a\":}")]
    [InlineData("not json")]
    [InlineData("{} {}")]
    [InlineData("{}x")]
    public void Rejects_invalid_json_when_validation_is_on(string payload)
    {
        Assert.Equal(Rejection.InvalidJson, Parse(Valid(payload: payload)));
        Assert.Equal(Rejection.None, Parse(Valid(payload: payload), json: false));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[1,2,3]")]
    [InlineData("42")]
    [InlineData("{\"t\":21.5,\"tags\":[\"a\",\"b\"]} \n")]
    public void Accepts_valid_json_values(string payload)
    {
        Assert.Equal(Rejection.None, Parse(Valid(payload: payload)));
    }

    [Fact]
    public void Checks_rules_in_wire_order_so_each_datagram_has_one_reason()
    {
        // Bad magic and a bad id together: the magic is checked first.
        byte[] datagram = Valid();
        BinaryPrimitives.WriteUInt16BigEndian(datagram, 0x1234);
        datagram.AsSpan(Datagram.DeviceIdOffset, Datagram.DeviceIdLength).Clear();

        Assert.Equal(Rejection.BadMagic, Parse(datagram));
    }

    [Fact]
    public void Parsing_allocates_nothing()
    {
        byte[] datagram = Valid(payload: """{"t":21.5,"h":40,"tags":["a","b"],"ok":true}""");
        Assert.Equal(10_000, ParseMany(datagram));

        long before = GC.GetAllocatedBytesForCurrentThread();
        int parsed = ParseMany(datagram);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(10_000, parsed);
        Assert.Equal(0, allocated);
    }

    // Fully optimised from the start: a loop in the test method that tiers up mid-run (on-stack replacement)
    // allocates once itself, which is not the code under test's allocation.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int ParseMany(byte[] datagram)
    {
        int parsed = 0;
        for (int i = 0; i < 10_000; i++)
        {
            parsed += Datagram.TryParse(datagram, MaxPayload, true, out _, out _) == Rejection.None ? 1 : 0;
        }

        return parsed;
    }

    [Fact]
    public void Written_datagrams_parse_back_to_what_was_written_property()
    {
        Gen<string> ids = Gen.Elements("a", "dev-1", "0123456789abcdef", "température", "ß-7");
        Gen<uint> sequences = Gen.Choose(int.MinValue, int.MaxValue).Select(i => unchecked((uint)i));
        Prop.ForAll(Arb.ToArbitrary(Gen.Zip(ids, sequences)), t =>
        {
            byte[] datagram = Valid(t.Item1, t.Item2, "{\"n\":" + t.Item2 + "}");
            Rejection r = Datagram.TryParse(datagram, MaxPayload, true, out DatagramHeader header, out _);
            return r == Rejection.None
                && header.Sequence == t.Item2
                && Encoding.UTF8.GetString(Datagram.DeviceIdText(datagram, header)) == t.Item1;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Random_bytes_never_throw_and_get_exactly_one_outcome_property()
    {
        Gen<byte[]> bytes = Gen.Choose(0, 120).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), n));
        Prop.ForAll(Arb.ToArbitrary(bytes), data =>
        {
            Rejection r = Datagram.TryParse(data, 64, true, out DatagramHeader header, out ReadOnlySpan<byte> payload);
            return r == Rejection.None
                ? header.DeviceIdLength > 0 && payload.Length == data.Length - Datagram.HeaderLength
                : header == default && payload.IsEmpty;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Mutating_a_valid_datagram_gives_a_known_outcome_property()
    {
        byte[] template = Valid();
        Gen<(int Index, byte Value)> mutation = Gen.Zip(Gen.Choose(0, template.Length - 1), Gen.Choose(0, 255).Select(i => (byte)i));
        Prop.ForAll(Arb.ToArbitrary(mutation), m =>
        {
            byte[] datagram = (byte[])template.Clone();
            datagram[m.Index] = m.Value;
            Rejection r = Parse(datagram);
            return m.Index switch
            {
                < 2 => r == (BinaryPrimitives.ReadUInt16BigEndian(datagram) == Datagram.Magic ? Rejection.None : Rejection.BadMagic),
                < Datagram.SequenceOffset => r is Rejection.None or Rejection.BadDeviceId,
                < Datagram.HeaderLength => r == Rejection.None,
                _ => r is Rejection.None or Rejection.InvalidJson,
            };
        }).QuickCheckThrowOnFailure();
    }
}
