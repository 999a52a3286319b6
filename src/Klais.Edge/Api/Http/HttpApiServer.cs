using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Api.Http;

/// <summary>Limits of the edge's HTTP server; every one is enforced with a specific status.</summary>
internal sealed record HttpApiLimits
{
    /// <summary>Request line plus headers; more gets 431.</summary>
    public int MaxHeaderBytes { get; init; } = 8 * 1024;

    /// <summary>Request body; more gets 413.</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// Open connections. At the limit a new connection takes the place of the one waiting longest for a request (idle,
    /// or sending its head or body slowly); only when every connection is in the middle of an answer is it refused
    /// with 503. Idle connections hold no buffer, so the limit costs little memory.
    /// </summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Time to receive one whole request once its first byte arrived; slower gets 408.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A kept-alive connection with no request for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The edge's HTTP/1.1 server: a listening socket, one task per connection, keep-alive, pipelined requests,
/// <c>Content-Length</c> and chunked bodies, bounded heads, bodies, connections and time. Handlers are synchronous and answer
/// whole responses. It exists because the edge's idle memory budget (60 MB) has no room for Kestrel (the same edge
/// idles about 15 MB higher on it, measured in docs/BENCHMARKS.md); the silo's larger API runs on Kestrel.
/// Bodies come with <c>Content-Length</c> or chunked (what .NET's HttpClient sends for JsonContent). Not supported,
/// answered with a status: other transfer codings (501), HTTP versions other than 1.0/1.1 (505).
/// </summary>
internal sealed partial class HttpApiServer : IAsyncDisposable
{
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] Continue = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    private readonly IPEndPoint _bind;
    private readonly Func<ApiRequest, ApiResponse> _handler;
    private readonly HttpApiLimits _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<Connection, Task> _connections = [];
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _requests;
    private long _refused;
    private long _evicted;
    private long _handshakeFailures;

    /// <param name="certificate">When given, every connection speaks TLS (HTTPS) with it.</param>
    public HttpApiServer(IPEndPoint bind, Func<ApiRequest, ApiResponse> handler, HttpApiLimits limits, TimeProvider time, ILogger log, X509Certificate2? certificate = null)
    {
        _certificate = certificate;
        _bind = bind;
        _handler = handler;
        _limits = limits;
        _time = time;
        _log = log;
    }

    /// <summary>The bound address (the real port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener ?? throw new InvalidOperationException("The server is not started.")).LocalEndPoint!;

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Connections refused because <see cref="HttpApiLimits.MaxConnections"/> were open, all of them busy answering.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>TLS connections that failed or did not finish their handshake in time.</summary>
    public long HandshakeFailures => Interlocked.Read(ref _handshakeFailures);

    /// <summary>Connections closed at the limit to make room for a new one: the one waiting longest for a request went.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    public void Start()
    {
        var listener = new Socket(_bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(_bind);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"The API cannot listen on {_bind}: {e.Message}", e);
        }

        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener, _stopping.Token);
        LogListening(_log, _certificate is null ? "http" : "https", LocalEndPoint.ToString());
    }

    public async Task StopAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        Task[] open;
        lock (_connections)
        {
            open = [.. _connections.Values];
        }

        await Task.WhenAll(open).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            client.NoDelay = true;
            lock (_connections)
            {
                if (_connections.Count >= _limits.MaxConnections && !EvictLongestWaiting())
                {
                    Interlocked.Increment(ref _refused);
                    if (_certificate is null)
                    {
                        _ = RefuseAsync(client);
                    }
                    else
                    {
                        client.Dispose(); // over TLS a 503 would need a handshake first
                    }

                    continue;
                }

                var connection = new Connection(client, _time.GetTimestamp());
                Task serving = ServeAsync(connection, stop);
                _connections[connection] = serving;
                _ = serving.ContinueWith(
                    _ =>
                    {
                        lock (_connections)
                        {
                            _connections.Remove(connection);
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
    }

    /// <summary>Under the lock: ends the connection waiting longest for a request; false when every one is answering.</summary>
    private bool EvictLongestWaiting()
    {
        Connection? longest = null;
        foreach (Connection c in _connections.Keys)
        {
            if (!c.Answering && !c.Evicted && (longest is null || c.WaitingSince < longest.WaitingSince))
            {
                longest = c;
            }
        }

        if (longest is null)
        {
            return false;
        }

        Interlocked.Increment(ref _evicted);
        longest.Evict();
        return true;
    }

    private static async Task RefuseAsync(Socket client)
    {
        using (client)
        {
            try
            {
                ApiResponse busy = ApiResponse.Error(503, "Too many open API connections; try again.").WithHeader("Retry-After", "1");
                await client.SendAsync(Serialize(busy, keepAlive: false, includeBody: true)).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // The client went away first; nothing to tell it.
            }
        }
    }

    private async Task ServeAsync(Connection connection, CancellationToken stop)
    {
        // Yield at once so the accept loop never runs a connection's first read inline.
        await Task.Yield();
        byte[]? buffer = null;
        int filled = 0;
        Stream? client = null;
        try
        {
            client = await OpenStreamAsync(connection.Socket, stop).ConfigureAwait(false);
            if (client is null)
            {
                return;
            }

            while (!stop.IsCancellationRequested && !connection.Evicted)
            {
                connection.Waiting(_time.GetTimestamp());
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
                using ITimer timer = _time.CreateTimer(CancelDeadline, deadline, filled == 0 ? _limits.IdleTimeout : _limits.RequestTimeout, Timeout.InfiniteTimeSpan);
                if (buffer is null)
                {
                    // Idle: wait for the first byte without a buffer (a zero-byte read), so idle connections cost no memory.
                    if (await ReceiveAsync(client, Memory<byte>.Empty, deadline).ConfigureAwait(false) < 0)
                    {
                        return;
                    }

                    buffer = ArrayPool<byte>.Shared.Rent(_limits.MaxHeaderBytes + _limits.MaxBodyBytes);
                }

                // The head: request line and headers, up to the blank line.
                int headLength;
                while ((headLength = buffer.AsSpan(0, filled).IndexOf(HeadEnd)) < 0)
                {
                    if (filled >= _limits.MaxHeaderBytes)
                    {
                        await SendAsync(client, ApiResponse.Error(431, $"The request head is larger than {_limits.MaxHeaderBytes} bytes."), false, true).ConfigureAwait(false);
                        return;
                    }

                    int read = await ReceiveAsync(client, buffer.AsMemory(filled, _limits.MaxHeaderBytes - filled), deadline).ConfigureAwait(false);
                    if (read <= 0)
                    {
                        if (read < 0 && filled > 0)
                        {
                            await SendAsync(client, ApiResponse.Error(408, "The request was not received in time."), false, true).ConfigureAwait(false);
                        }

                        return;
                    }

                    if (filled == 0)
                    {
                        // The first byte of a request: from now on the request timeout applies.
                        timer.Change(_limits.RequestTimeout, Timeout.InfiniteTimeSpan);
                    }

                    filled += read;
                }

                RequestHead head = RequestHead.Parse(buffer.AsSpan(0, headLength), out string? error, out int errorStatus);
                if (error is not null)
                {
                    await SendAsync(client, ApiResponse.Error(errorStatus, error), false, true).ConfigureAwait(false);
                    return;
                }

                // From here on the buffer holds only what followed the head.
                int afterHead = headLength + HeadEnd.Length;
                buffer.AsSpan(afterHead, filled - afterHead).CopyTo(buffer);
                filled -= afterHead;
                if (head.ContentLength > _limits.MaxBodyBytes)
                {
                    await SendAsync(client, ApiResponse.Error(413, $"The body is larger than {_limits.MaxBodyBytes} bytes."), false, true).ConfigureAwait(false);
                    return;
                }

                if (head.ExpectContinue && filled == 0 && (head.Chunked || head.ContentLength > 0))
                {
                    await client.WriteAsync(Continue, deadline.Token).ConfigureAwait(false);
                }

                BodyRead body = head.Chunked
                    ? await ReadChunkedAsync(client, buffer, filled, deadline).ConfigureAwait(false)
                    : await ReadLengthAsync(client, buffer, filled, (int)head.ContentLength, deadline).ConfigureAwait(false);
                if (body.Body is null)
                {
                    if (body.Status != 0)
                    {
                        await SendAsync(client, ApiResponse.Error(body.Status, body.Error!), false, true).ConfigureAwait(false);
                    }

                    return;
                }

                filled = body.Filled;
                var request = new ApiRequest
                {
                    Method = head.Method == "HEAD" ? "GET" : head.Method,
                    Path = head.Path,
                    Query = head.Query,
                    Authorization = head.Authorization,
                    Body = body.Body,
                };
                Interlocked.Increment(ref _requests);
                connection.Answering = true;
                ApiResponse response;
                try
                {
                    response = _handler(request);
                }
#pragma warning disable CA1031 // One failing handler must answer 500, not take the connection or the server down.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogHandlerFailed(_log, head.Method, head.Path, e);
                    response = ApiResponse.Error(500, "The request failed inside the edge; see its log.");
                }

                await SendAsync(client, response, head.KeepAlive, head.Method != "HEAD").ConfigureAwait(false);
                connection.Answering = false;
                if (!head.KeepAlive)
                {
                    return;
                }

                if (filled == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }

            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the server is stopping; the connection just ends.
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            connection.Close();
        }
    }

    /// <summary>
    /// The connection's stream: the socket's, or TLS over it with the handshake bounded by the request timeout. Null
    /// when the handshake failed or timed out (counted; the connection just ends).
    /// </summary>
    private async Task<Stream?> OpenStreamAsync(Socket socket, CancellationToken stop)
    {
        var plain = new NetworkStream(socket, ownsSocket: false);
        if (_certificate is null)
        {
            return plain;
        }

        var tls = new SslStream(plain, leaveInnerStreamOpen: false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using ITimer timer = _time.CreateTimer(CancelDeadline, deadline, _limits.RequestTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, deadline.Token).ConfigureAwait(false);
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            Interlocked.Increment(ref _handshakeFailures);
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>One open connection: whether it is answering a request, or since when it waits for one.</summary>
    private sealed class Connection(Socket socket, long openedAt)
    {
        private long _waitingSince = openedAt;
        private volatile bool _answering;
        private volatile bool _evicted;

        public Socket Socket { get; } = socket;

        public long WaitingSince => Interlocked.Read(ref _waitingSince);

        public bool Answering
        {
            get => _answering;
            set => _answering = value;
        }

        public bool Evicted => _evicted;

        public void Waiting(long now) => Interlocked.Exchange(ref _waitingSince, now);

        /// <summary>Ends the connection from the accept loop: its pending read returns, and its loop closes it.</summary>
        public void Evict()
        {
            _evicted = true;
            Shutdown();
        }

        public void Close()
        {
            Shutdown();
            Socket.Dispose();
        }

        private void Shutdown()
        {
            try
            {
                Socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed by the peer, or by the other side of this race.
            }
        }
    }

    /// <summary>A body read: the bytes and how much of the buffer (the next request's start) is left; or a status to answer.</summary>
    private readonly record struct BodyRead(byte[]? Body, int Filled, int Status, string? Error)
    {
        public static BodyRead Fail(int status, string error) => new(null, 0, status, error);

        /// <summary>The peer closed (status 0: nothing to answer) or the deadline passed (408).</summary>
        public static BodyRead Ended(int read) => read < 0 ? Fail(408, "The request body was not received in time.") : default;
    }

    /// <summary>A <c>Content-Length</c> body; <paramref name="buffer"/> starts with what followed the head.</summary>
    private static async Task<BodyRead> ReadLengthAsync(Stream client, byte[] buffer, int filled, int length, CancellationTokenSource deadline)
    {
        while (filled < length)
        {
            int read = await ReceiveAsync(client, buffer.AsMemory(filled), deadline).ConfigureAwait(false);
            if (read <= 0)
            {
                return BodyRead.Ended(read);
            }

            filled += read;
        }

        byte[] body = buffer.AsSpan(0, length).ToArray();
        buffer.AsSpan(length, filled - length).CopyTo(buffer);
        return new BodyRead(body, filled - length, 0, null);
    }

    /// <summary>
    /// A chunked body (RFC 9112 section 7.1): size line in hex (extensions ignored), data, CRLF; a zero size ends it,
    /// followed by optional trailer lines (ignored) and an empty line. Each chunk is consumed from the front of
    /// <paramref name="buffer"/> as it completes.
    /// </summary>
    private async Task<BodyRead> ReadChunkedAsync(Stream client, byte[] buffer, int filled, CancellationTokenSource deadline)
    {
        const int MaxLine = 1024;
        using var body = new MemoryStream();
        bool trailers = false;
        while (true)
        {
            int lineEnd;
            while ((lineEnd = buffer.AsSpan(0, filled).IndexOf("\r\n"u8)) < 0)
            {
                if (filled >= MaxLine)
                {
                    return BodyRead.Fail(400, "A chunk size or trailer line is longer than 1024 bytes.");
                }

                int read = await ReceiveAsync(client, buffer.AsMemory(filled), deadline).ConfigureAwait(false);
                if (read <= 0)
                {
                    return BodyRead.Ended(read);
                }

                filled += read;
            }

            int consumed = lineEnd + 2;
            if (trailers)
            {
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (lineEnd == 0)
                {
                    return new BodyRead(body.ToArray(), filled, 0, null);
                }

                continue;
            }

            ReadOnlySpan<byte> sizeText = buffer.AsSpan(0, lineEnd);
            int semicolon = sizeText.IndexOf((byte)';');
            if (!TryParseHex(semicolon < 0 ? sizeText : sizeText[..semicolon], out long size))
            {
                return BodyRead.Fail(400, "A chunk size is not a hexadecimal number.");
            }

            if (size == 0)
            {
                trailers = true;
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                continue;
            }

            if (body.Length + size > _limits.MaxBodyBytes)
            {
                return BodyRead.Fail(413, $"The body is larger than {_limits.MaxBodyBytes} bytes.");
            }

            int chunkEnd = consumed + (int)size + 2;
            while (filled < chunkEnd)
            {
                int read = await ReceiveAsync(client, buffer.AsMemory(filled), deadline).ConfigureAwait(false);
                if (read <= 0)
                {
                    return BodyRead.Ended(read);
                }

                filled += read;
            }

            if (!buffer.AsSpan(chunkEnd - 2, 2).SequenceEqual("\r\n"u8))
            {
                return BodyRead.Fail(400, "A chunk's data is not followed by CRLF.");
            }

            body.Write(buffer, consumed, (int)size);
            buffer.AsSpan(chunkEnd, filled - chunkEnd).CopyTo(buffer);
            filled -= chunkEnd;
        }
    }

    private static bool TryParseHex(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        text = text.Trim(" \t"u8);
        if (text.IsEmpty || text.Length > 8)
        {
            return false;
        }

        foreach (byte b in text)
        {
            int digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }

            value = (value * 16) + digit;
        }

        return true;
    }

    private static void CancelDeadline(object? state)
    {
        try
        {
            ((CancellationTokenSource)state!).Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The request completed just as its deadline fired.
        }
    }

    /// <summary>Bytes read; 0 when the peer closed; -1 when the deadline passed (or the server is stopping).</summary>
    private static async ValueTask<int> ReceiveAsync(Stream client, Memory<byte> into, CancellationTokenSource deadline)
    {
        try
        {
            return await client.ReadAsync(into, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return -1;
        }
    }

    private static async Task SendAsync(Stream client, ApiResponse response, bool keepAlive, bool includeBody) =>
        await client.WriteAsync(Serialize(response, keepAlive, includeBody)).ConfigureAwait(false);

    internal static byte[] Serialize(ApiResponse response, bool keepAlive, bool includeBody)
    {
        var head = new StringBuilder(256);
        head.Append("HTTP/1.1 ").Append(response.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(ReasonPhrase(response.Status)).Append("\r\n");
        head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        head.Append("Content-Length: ").Append(response.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Cache-Control: no-store\r\n");
        foreach ((string name, string value) in response.Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (!keepAlive)
        {
            head.Append("Connection: close\r\n");
        }

        head.Append("\r\n");
        int headBytes = Encoding.ASCII.GetByteCount(head.ToString());
        byte[] bytes = new byte[headBytes + (includeBody ? response.Body.Length : 0)];
        Encoding.ASCII.GetBytes(head.ToString(), bytes);
        if (includeBody)
        {
            response.Body.Span.CopyTo(bytes.AsSpan(headBytes));
        }

        return bytes;
    }

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    };

    [LoggerMessage(EventId = EventIds.ApiListening, Level = LogLevel.Information, Message = "API listening on {Scheme}://{Endpoint}")]
    private static partial void LogListening(ILogger logger, string scheme, string endpoint);

    [LoggerMessage(EventId = EventIds.ApiHandlerFailed, Level = LogLevel.Error, Message = "API {Method} {Path} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string method, string path, Exception exception);
}
