using System.Text;

namespace Klais.Edge.Api.Http;

/// <summary>
/// The parsed head of an HTTP/1.x request (RFC 9112): request line and the headers the API needs. A malformed head
/// yields an error message and status instead of a guess.
/// </summary>
internal readonly record struct RequestHead(
    string Method, string Path, string Query, bool KeepAlive, long ContentLength, bool Chunked, bool ExpectContinue, string? Authorization)
{
    public static RequestHead Parse(ReadOnlySpan<byte> head, out string? error, out int status)
    {
        error = null;
        status = 0;
        int lineEnd = head.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> requestLine = lineEnd < 0 ? head : head[..lineEnd];
        ReadOnlySpan<byte> fields = lineEnd < 0 ? [] : head[(lineEnd + 2)..];

        int firstSpace = requestLine.IndexOf((byte)' ');
        int lastSpace = requestLine.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return Fail(out error, out status, 400, "The request line must be 'METHOD /path HTTP/1.1'.");
        }

        ReadOnlySpan<byte> method = requestLine[..firstSpace];
        ReadOnlySpan<byte> target = requestLine[(firstSpace + 1)..lastSpace];
        ReadOnlySpan<byte> version = requestLine[(lastSpace + 1)..];
        if (!IsToken(method))
        {
            return Fail(out error, out status, 400, "The request method is not a valid token.");
        }

        bool http11 = version.SequenceEqual("HTTP/1.1"u8);
        if (!http11 && !version.SequenceEqual("HTTP/1.0"u8))
        {
            return Fail(out error, out status, 505, "Only HTTP/1.1 and HTTP/1.0 are served here.");
        }

        if (target.IsEmpty || target[0] != (byte)'/' || target.IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || target.Contains((byte)0x7F))
        {
            return Fail(out error, out status, 400, "The request target must be a path starting with '/'.");
        }

        bool keepAlive = http11;
        long contentLength = 0;
        bool sawLength = false;
        bool sawHost = false;
        bool expectContinue = false;
        bool chunked = false;
        string? authorization = null;
        while (!fields.IsEmpty)
        {
            int end = fields.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> line = end < 0 ? fields : fields[..end];
            fields = end < 0 ? [] : fields[(end + 2)..];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                return Fail(out error, out status, 400, "A header line is malformed (folded lines and names with spaces are not accepted).");
            }

            ReadOnlySpan<byte> name = line[..colon];
            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
            if (Is(name, "content-length"))
            {
                if (!TryParseLength(value, out long length) || (sawLength && length != contentLength))
                {
                    return Fail(out error, out status, 400, "Content-Length is not a single non-negative whole number.");
                }

                contentLength = length;
                sawLength = true;
            }
            else if (Is(name, "transfer-encoding"))
            {
                if (!Ascii.EqualsIgnoreCase(value, "chunked"u8))
                {
                    return Fail(out error, out status, 501, "Only the chunked transfer coding is supported here.");
                }

                chunked = true;
            }
            else if (Is(name, "connection"))
            {
                if (ContainsToken(value, "close"))
                {
                    keepAlive = false;
                }
                else if (ContainsToken(value, "keep-alive"))
                {
                    keepAlive = true;
                }
            }
            else if (Is(name, "host"))
            {
                sawHost = true;
            }
            else if (Is(name, "expect"))
            {
                expectContinue = Ascii.EqualsIgnoreCase(value, "100-continue"u8);
            }
            else if (Is(name, "authorization"))
            {
                authorization = Encoding.ASCII.GetString(value);
            }
        }

        if (chunked && sawLength)
        {
            // Both framings at once is how requests get smuggled past proxies (RFC 9112 section 6.3): refuse.
            return Fail(out error, out status, 400, "A request cannot have both Transfer-Encoding and Content-Length.");
        }

        if (http11 && !sawHost)
        {
            return Fail(out error, out status, 400, "An HTTP/1.1 request needs a Host header.");
        }

        string targetText = Encoding.ASCII.GetString(target);
        int question = targetText.IndexOf('?', StringComparison.Ordinal);
        return new RequestHead(
            Encoding.ASCII.GetString(method),
            question < 0 ? targetText : targetText[..question],
            question < 0 ? "" : targetText[(question + 1)..],
            keepAlive,
            contentLength,
            chunked,
            expectContinue,
            authorization);
    }

    private static RequestHead Fail(out string? error, out int status, int code, string message)
    {
        error = message;
        status = code;
        return default;
    }

    private static bool Is(ReadOnlySpan<byte> name, string expected) => Ascii.EqualsIgnoreCase(name, expected);

    private static bool ContainsToken(ReadOnlySpan<byte> value, string token)
    {
        foreach (Range part in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[part].Trim(" \t"u8), token))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryParseLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.IsEmpty || value.Length > 18)
        {
            return false;
        }

        foreach (byte b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            length = (length * 10) + (b - '0');
        }

        return true;
    }

    /// <summary>RFC 9110 token characters: visible ASCII except delimiters.</summary>
    private static bool IsToken(ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (b <= (byte)' ' || b >= 0x7F || "\"(),/:;<=>?@[\\]{}"u8.Contains(b))
            {
                return false;
            }
        }

        return true;
    }
}
