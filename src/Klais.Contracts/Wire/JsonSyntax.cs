using System.Buffers;

namespace Klais.Contracts.Wire;

/// <summary>
/// Whether a payload is one complete JSON value (RFC 8259), accepting exactly what <see cref="System.Text.Json.Utf8JsonReader"/>
/// accepts with its default options and a <c>MaxDepth</c> of 64: no comments, no trailing commas, whitespace around the
/// value, strings without control characters and with valid escapes (their other bytes are not checked as UTF-8, as the
/// reader's <c>Read</c> does not check them either).
/// </summary>
/// <remarks>
/// The edge checks every datagram's payload on its receive thread. Reading the payload token by token with the
/// reader cost about 7 % of that thread at full speed; a single pass over the bytes that only says yes or no does the
/// same check in a third to a half of the time (docs/BENCHMARKS.md, <c>JsonCheckBenchmarks</c>). The reader stays the
/// reference: a differential test feeds both the same inputs, hand-picked and generated, and requires the same verdict.
/// </remarks>
public static class JsonSyntax
{
    /// <summary>Deepest nesting of objects and arrays accepted, as the reader's <c>MaxDepth</c>.</summary>
    public const int MaxDepth = 64;

    // Bytes that end the fast scan of a string: its closing quote, an escape, or a control character (not allowed).
    private static readonly SearchValues<byte> StringStops = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F"u8);

    /// <summary>True when <paramref name="json"/> holds exactly one JSON value, with optional whitespace around it.</summary>
    public static bool IsValid(ReadOnlySpan<byte> json)
    {
        // Bit d of `objects` says whether the container at depth d is an object (else an array): 64 levels fit.
        ulong objects = 0;
        int depth = 0;
        int i = SkipWhitespace(json, 0);

        while (true)
        {
            // A value starts at i.
            if (i >= json.Length)
            {
                return false;
            }

            switch (json[i])
            {
                case (byte)'{' or (byte)'[':
                    if (depth == MaxDepth)
                    {
                        return false;
                    }

                    bool isObject = json[i] == '{';
                    objects = isObject ? objects | (1UL << depth) : objects & ~(1UL << depth);
                    depth++;
                    i = SkipWhitespace(json, i + 1);
                    if (i < json.Length && json[i] == (isObject ? (byte)'}' : (byte)']'))
                    {
                        depth--;
                        i++;
                        break;
                    }

                    if (isObject)
                    {
                        goto Member;
                    }

                    continue;

                case (byte)'"':
                    i = SkipString(json, i);
                    break;

                case (byte)'t':
                    i = SkipLiteral(json, i, "true"u8);
                    break;

                case (byte)'f':
                    i = SkipLiteral(json, i, "false"u8);
                    break;

                case (byte)'n':
                    i = SkipLiteral(json, i, "null"u8);
                    break;

                default:
                    i = SkipNumber(json, i);
                    break;
            }

        AfterValue:
            if (i < 0)
            {
                return false;
            }

            i = SkipWhitespace(json, i);
            if (depth == 0)
            {
                return i == json.Length;
            }

            if (i >= json.Length)
            {
                return false;
            }

            bool inObject = ((objects >> (depth - 1)) & 1) != 0;
            byte next = json[i];
            if (next == ',')
            {
                i = SkipWhitespace(json, i + 1);
                if (inObject)
                {
                    goto Member;
                }

                continue;
            }

            if (next != (inObject ? (byte)'}' : (byte)']'))
            {
                return false;
            }

            depth--;
            i++;
            goto AfterValue;

        Member:
            // A property name, a colon, then the value (the loop's next turn).
            if (i >= json.Length || json[i] != '"')
            {
                return false;
            }

            i = SkipString(json, i);
            if (i < 0)
            {
                return false;
            }

            i = SkipWhitespace(json, i);
            if (i >= json.Length || json[i] != ':')
            {
                return false;
            }

            i = SkipWhitespace(json, i + 1);
        }
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            i++;
        }

        return i;
    }

    /// <summary>The index after the string whose opening quote is at <paramref name="i"/>, or -1.</summary>
    private static int SkipString(ReadOnlySpan<byte> json, int i)
    {
        i++;
        while (true)
        {
            int stop = json[i..].IndexOfAny(StringStops);
            if (stop < 0)
            {
                return -1;
            }

            i += stop;
            byte c = json[i];
            if (c == '"')
            {
                return i + 1;
            }

            if (c != '\\' || i + 1 >= json.Length)
            {
                return -1; // a control character, or an escape cut off by the end
            }

            switch (json[i + 1])
            {
                case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                    i += 2;
                    break;
                case (byte)'u':
                    if (i + 6 > json.Length || !IsHex(json[i + 2]) || !IsHex(json[i + 3]) || !IsHex(json[i + 4]) || !IsHex(json[i + 5]))
                    {
                        return -1;
                    }

                    i += 6;
                    break;
                default:
                    return -1;
            }
        }
    }

    private static bool IsHex(byte c) => (uint)(c - '0') <= 9 || (uint)((c | 0x20) - 'a') <= 5;

    private static int SkipLiteral(ReadOnlySpan<byte> json, int i, ReadOnlySpan<byte> literal) =>
        json[i..].StartsWith(literal) ? i + literal.Length : -1;

    /// <summary>
    /// The index after the number at <paramref name="i"/> (<c>-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</c>), or -1.
    /// What follows it is checked by the caller: only whitespace, a comma, a closing bracket or the end may.
    /// </summary>
    private static int SkipNumber(ReadOnlySpan<byte> json, int i)
    {
        if (json[i] == '-' && ++i >= json.Length)
        {
            return -1;
        }

        if (json[i] == '0')
        {
            i++;
        }
        else if (IsDigit(json[i]))
        {
            i = SkipDigits(json, i + 1);
        }
        else
        {
            return -1;
        }

        if (i < json.Length && json[i] == '.')
        {
            if (++i >= json.Length || !IsDigit(json[i]))
            {
                return -1;
            }

            i = SkipDigits(json, i + 1);
        }

        if (i < json.Length && (json[i] | 0x20) == 'e')
        {
            if (++i < json.Length && json[i] is (byte)'+' or (byte)'-')
            {
                i++;
            }

            if (i >= json.Length || !IsDigit(json[i]))
            {
                return -1;
            }

            i = SkipDigits(json, i + 1);
        }

        return i;
    }

    private static bool IsDigit(byte c) => (uint)(c - '0') <= 9;

    private static int SkipDigits(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && IsDigit(json[i]))
        {
            i++;
        }

        return i;
    }
}
