using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Klais.Contracts.Wire;

namespace Klais.Contracts.Tests.Wire;

public sealed class DeviceKeyTests
{
    public static TheoryData<string, string> GoldenVectors()
    {
        var data = new TheoryData<string, string>();
        foreach (string line in File.ReadLines(VectorsPath()))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            data.Add(columns[0], columns[1]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(GoldenVectors))]
    public void Key_matches_the_shared_golden_vector(string rawIdHex, string keyHex)
    {
        byte[] raw = Convert.FromHexString(rawIdHex);
        ulong expected = ulong.Parse(keyHex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

        Assert.Equal(expected, DeviceKey.Compute(raw));
    }

    [Fact]
    public void Golden_vector_file_has_vectors()
    {
        Assert.True(GoldenVectors().Count >= 10);
    }

    [Fact]
    public void Parsed_header_key_is_the_hash_of_the_padded_field()
    {
        byte[] datagram = new byte[64];
        int length = Datagram.Write(datagram, "dev-000001"u8, 7, "{}"u8);

        Datagram.TryParse(datagram.AsSpan(0, length), 1024, false, out DatagramHeader header, out _);

        Assert.Equal(0xf7e942fb56441318UL, header.DeviceKey);
    }

    [Fact]
    public void Key_rejects_a_field_of_the_wrong_length()
    {
        Assert.Throws<ArgumentException>(() => DeviceKey.Compute(new byte[15]));
    }

    [Fact]
    public void Padding_is_part_of_the_key()
    {
        // "ab" padded and "ab\0\0…" are the same field; "ab" with a different tail would be rejected by the
        // parser, but the hash itself must cover all 16 bytes so kernel and user space agree on raw input.
        byte[] a = new byte[16];
        byte[] b = new byte[16];
        "ab"u8.CopyTo(a);
        "ab"u8.CopyTo(b);
        b[15] = 1;

        Assert.NotEqual(DeviceKey.Compute(a), DeviceKey.Compute(b));
    }

    [Fact]
    public void Distinct_fields_hash_to_distinct_keys_property()
    {
        Gen<byte[]> field = Gen.ArrayOf(Gen.Choose(0, 255).Select(i => (byte)i), 16);
        Prop.ForAll(Arb.ToArbitrary(Gen.Two(field)), pair =>
                pair.Item1.AsSpan().SequenceEqual(pair.Item2) || DeviceKey.Compute(pair.Item1) != DeviceKey.Compute(pair.Item2))
            .QuickCheckThrowOnFailure();
    }

    private static string VectorsPath()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "tests", "vectors", "device_key.txt")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir is null
            ? throw new FileNotFoundException("tests/vectors/device_key.txt not found above " + AppContext.BaseDirectory)
            : Path.Combine(dir, "tests", "vectors", "device_key.txt");
    }
}
