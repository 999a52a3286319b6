using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;

namespace Klais.Contracts.Tests.Wire;

/// <summary>
/// <see cref="JsonSyntax"/> against its reference, <see cref="Utf8JsonReader"/> read to the end: the same verdict on
/// hand-picked cases and on generated valid documents and their mutations.
/// </summary>
public sealed class JsonSyntaxTests
{
    /// <summary>The check the edge made before <see cref="JsonSyntax"/>: the reader over the whole span.</summary>
    private static bool Reference(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return false;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = JsonSyntax.MaxDepth });
        try
        {
            while (reader.Read())
            {
            }

            return reader.BytesConsumed == json.Length || json[(int)reader.BytesConsumed..].Trim(" \t\r\n"u8).IsEmpty;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("""{"v":1,"p":"xxxx"}""", true)]
    [InlineData("""  {"t" : 21.5 , "ok":true,"n":null,"a":[1,-2,3e5,4.5E-3,0,-0.0,[],{}]}  """, true)]
    [InlineData("\t\r\n[]\n", true)]
    [InlineData("\"text\"", true)]
    [InlineData("12", true)]
    [InlineData("-0", true)]
    [InlineData("1E+2", true)]
    [InlineData("false", true)]
    [InlineData("""{"esc":"\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"}""", true)]
    [InlineData("""["\uD800"]""", true)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData("{", false)]
    [InlineData("}", false)]
    [InlineData("""{"a":1,}""", false)]
    [InlineData("[1,]", false)]
    [InlineData("[,1]", false)]
    [InlineData("""{"a" 1}""", false)]
    [InlineData("""{a:1}""", false)]
    [InlineData("""{1:1}""", false)]
    [InlineData("""{"a":}""", false)]
    [InlineData("[1 2]", false)]
    [InlineData("{} {}", false)]
    [InlineData("1 2", false)]
    [InlineData("01", false)]
    [InlineData("-", false)]
    [InlineData("+1", false)]
    [InlineData(".5", false)]
    [InlineData("1.", false)]
    [InlineData("1.e5", false)]
    [InlineData("1e", false)]
    [InlineData("1e+", false)]
    [InlineData("0x10", false)]
    [InlineData("NaN", false)]
    [InlineData("tru", false)]
    [InlineData("truex", false)]
    [InlineData("nul", false)]
    [InlineData("[true1]", false)]
    [InlineData("\"open", false)]
    [InlineData("\"tab\there\"", false)]
    [InlineData("""["\x"]""", false)]
    [InlineData("""["\u12G4"]""", false)]
    [InlineData("""["\u12"]""", false)]
    [InlineData("\"\\", false)]
    [InlineData("// comment\n{}", false)]
    [InlineData("{}/**/", false)]
    [InlineData("'single'", false)]
    public void Agrees_with_the_reader_on_hand_picked_cases(string text, bool valid)
    {
        byte[] json = Encoding.UTF8.GetBytes(text);

        Assert.Equal(valid, Reference(json));
        Assert.Equal(valid, JsonSyntax.IsValid(json));
    }

    [Theory]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'{', (byte)'}' })] // a byte-order mark before the value
    [InlineData(new byte[] { (byte)'"', 0xFF, 0xFE, (byte)'"' })] // bytes that are not UTF-8, inside a string
    [InlineData(new byte[] { (byte)'"', 0xC3, (byte)'"' })] // a cut-off UTF-8 sequence inside a string
    [InlineData(new byte[] { (byte)'[', 0xC3, 0xA9, (byte)']' })] // a non-ASCII character outside a string
    [InlineData(new byte[] { (byte)'[', 0x00, (byte)']' })]
    [InlineData(new byte[] { (byte)'"', 0x7F, (byte)'"' })] // DEL is not a control character to JSON
    [InlineData(new byte[] { (byte)'{', (byte)'}', 0x00 })]
    public void Agrees_with_the_reader_on_bytes_that_are_not_text(byte[] json)
    {
        Assert.Equal(Reference(json), JsonSyntax.IsValid(json));
    }

    [Theory]
    [InlineData('[', ']')]
    [InlineData('{', '}')]
    public void Accepts_nesting_to_the_maximum_depth_and_not_one_level_more(char open, char close)
    {
        foreach (int depth in new[] { JsonSyntax.MaxDepth - 1, JsonSyntax.MaxDepth, JsonSyntax.MaxDepth + 1, 200 })
        {
            var text = new StringBuilder();
            for (int level = 0; level < depth; level++)
            {
                text.Append(open);
                if (open == '{')
                {
                    text.Append("\"k\":");
                }
            }

            text.Append('1').Append(close, depth);
            byte[] json = Encoding.UTF8.GetBytes(text.ToString());

            bool expected = depth <= JsonSyntax.MaxDepth;
            Assert.Equal(expected, Reference(json));
            Assert.Equal(expected, JsonSyntax.IsValid(json));
        }
    }

    [Fact]
    public void Agrees_with_the_reader_on_generated_documents_and_their_mutations()
    {
        var random = new Random(20261128);
        // Bytes the mutations insert: every byte JSON gives a meaning to, and some it does not.
        byte[] alphabet = "{}[]:,\"\\/ \t\n\r0123456789-+.eEtrufalsn\u0001x"u8.ToArray().Concat(new byte[] { 0x00, 0x1F, 0x80, 0xC3, 0xFF }).ToArray();
        int valid = 0, invalid = 0;
        var buffer = new List<byte>();

        for (int round = 0; round < 60_000; round++)
        {
            buffer.Clear();
            Generate(random, buffer, depth: 0);
            byte[] document = buffer.ToArray();
            Check(document);

            // One to three mutations: replace, insert or delete a byte.
            var mutated = new List<byte>(document);
            int mutations = random.Next(1, 4);
            for (int m = 0; m < mutations; m++)
            {
                int at = random.Next(mutated.Count + 1);
                switch (random.Next(3))
                {
                    case 0 when at < mutated.Count:
                        mutated[at] = alphabet[random.Next(alphabet.Length)];
                        break;
                    case 1:
                        mutated.Insert(at, alphabet[random.Next(alphabet.Length)]);
                        break;
                    default:
                        if (at < mutated.Count)
                        {
                            mutated.RemoveAt(at);
                        }

                        break;
                }
            }

            Check(mutated.ToArray());
        }

        // The generated half is valid by construction; mutations must produce both verdicts in quantity.
        Assert.True(valid > 60_000, $"{valid} valid");
        Assert.True(invalid > 20_000, $"{invalid} invalid");

        void Check(byte[] json)
        {
            bool expected = Reference(json);
            bool actual = JsonSyntax.IsValid(json);
            if (expected != actual)
            {
                Assert.Fail($"reader says {expected}, JsonSyntax says {actual}: {Convert.ToHexString(json)} ({Encoding.UTF8.GetString(json)})");
            }

            if (expected)
            {
                valid++;
            }
            else
            {
                invalid++;
            }
        }
    }

    [Fact]
    public void Allocates_nothing()
    {
        byte[] json = """{"v":1,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","a":[1.5,true,null]}"""u8.ToArray();
        CheckMany(json, 1_000);

        long before = GC.GetAllocatedBytesForCurrentThread();
        int accepted = CheckMany(json, 100_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(100_000, accepted);
        Assert.Equal(0, allocated);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static int CheckMany(byte[] json, int times)
    {
        int accepted = 0;
        for (int i = 0; i < times; i++)
        {
            accepted += JsonSyntax.IsValid(json) ? 1 : 0;
        }

        return accepted;
    }

    /// <summary>Appends a random valid JSON value, with random whitespace, nesting at most 6 levels.</summary>
    private static void Generate(Random random, List<byte> to, int depth)
    {
        Space(random, to);
        int kind = depth >= 6 ? random.Next(2, 7) : random.Next(7);
        switch (kind)
        {
            case 0:
                to.Add((byte)'{');
                int members = random.Next(4);
                for (int i = 0; i < members; i++)
                {
                    if (i > 0)
                    {
                        to.Add((byte)',');
                    }

                    Space(random, to);
                    String(random, to);
                    Space(random, to);
                    to.Add((byte)':');
                    Generate(random, to, depth + 1);
                }

                Space(random, to);
                to.Add((byte)'}');
                break;
            case 1:
                to.Add((byte)'[');
                int items = random.Next(4);
                for (int i = 0; i < items; i++)
                {
                    if (i > 0)
                    {
                        to.Add((byte)',');
                    }

                    Generate(random, to, depth + 1);
                }

                Space(random, to);
                to.Add((byte)']');
                break;
            case 2:
                String(random, to);
                break;
            case 3:
                to.AddRange(Encoding.ASCII.GetBytes(random.Next(5) switch
                {
                    0 => "0",
                    1 => "-" + random.Next(1000),
                    2 => random.Next(100) + "." + random.Next(1000),
                    3 => random.Next(10) + (random.Next(2) == 0 ? "e" : "E") + (random.Next(3) switch { 0 => "+", 1 => "-", _ => "" }) + random.Next(40),
                    _ => "-0." + random.Next(100) + "e-" + random.Next(9),
                }));
                break;
            case 4:
                to.AddRange("true"u8.ToArray());
                break;
            case 5:
                to.AddRange("false"u8.ToArray());
                break;
            default:
                to.AddRange("null"u8.ToArray());
                break;
        }

        Space(random, to);
    }

    private static void String(Random random, List<byte> to)
    {
        to.Add((byte)'"');
        int length = random.Next(12);
        for (int i = 0; i < length; i++)
        {
            switch (random.Next(10))
            {
                case 0:
                    to.AddRange(Encoding.ASCII.GetBytes("\\" + "\"\\/bfnrt"[random.Next(8)]));
                    break;
                case 1:
                    to.AddRange(Encoding.ASCII.GetBytes("\\u" + random.Next(0x10000).ToString(random.Next(2) == 0 ? "x4" : "X4")));
                    break;
                case 2:
                    to.AddRange("é€😀"u8.ToArray());
                    break;
                default:
                    byte c = (byte)random.Next(0x20, 0x7F);
                    to.Add(c is (byte)'"' or (byte)'\\' ? (byte)'q' : c);
                    break;
            }
        }

        to.Add((byte)'"');
    }

    private static void Space(Random random, List<byte> to)
    {
        if (random.Next(4) == 0)
        {
            to.Add(" \t\n\r"u8[random.Next(4)]);
        }
    }
}
