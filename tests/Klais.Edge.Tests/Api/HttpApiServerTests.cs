using System.Net;
using System.Net.Sockets;
using System.Text;
using Klais.Edge.Api.Http;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Api;

/// <summary>The edge's HTTP/1.1 server over real loopback sockets, spoken to in raw bytes.</summary>
public sealed class HttpApiServerTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private readonly List<string> _seen = [];
    private HttpApiServer _server = null!;

    private static HttpApiLimits Limits => new()
    {
        MaxHeaderBytes = 1024,
        MaxBodyBytes = 256,
        MaxConnections = 4,
        RequestTimeout = TimeSpan.FromSeconds(10),
        IdleTimeout = TimeSpan.FromSeconds(60),
    };

    public Task InitializeAsync()
    {
        _server = new HttpApiServer(new IPEndPoint(IPAddress.Loopback, 0), Echo, Limits, _time, NullLogger.Instance);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _release.Set();
        await _server.DisposeAsync();
        _release.Dispose();
    }

    private readonly ManualResetEventSlim _release = new();
    private int _holding;

    private ApiResponse Echo(ApiRequest request)
    {
        if (request.Path == "/hold")
        {
            // Answering: the handler runs until the test releases it.
            Interlocked.Increment(ref _holding);
            _release.Wait(TimeSpan.FromSeconds(30));
        }

        lock (_seen)
        {
            _seen.Add($"{request.Method} {request.Path} ?{request.Query} auth={request.Authorization} body={Encoding.UTF8.GetString(request.Body.Span)}");
        }

        return request.Path == "/throw"
            ? throw new InvalidOperationException("handler failure")
            : ApiResponse.Text(200, "text/plain", $"{request.Method} {request.Path}");
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.LocalEndPoint);
        return socket;
    }

    /// <summary>Reads until the peer closes or <paramref name="responses"/> complete responses arrived.</summary>
    private static Task<string> ReadAsync(Socket socket, int responses = int.MaxValue) =>
        ReadUntilAsync(socket, text => CountComplete(text) >= responses);

    private static async Task<string> ReadUntilAsync(Socket socket, Func<string, bool> done)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!done(text.ToString()))
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }

    private static int CountComplete(string text)
    {
        int count = 0;
        int at = 0;
        while (true)
        {
            int head = text.IndexOf("\r\n\r\n", at, StringComparison.Ordinal);
            if (head < 0)
            {
                return count;
            }

            int lengthAt = text.IndexOf("Content-Length: ", at, StringComparison.Ordinal);
            int length = 0;
            if (lengthAt >= 0 && lengthAt < head)
            {
                int lineEnd = text.IndexOf("\r\n", lengthAt, StringComparison.Ordinal);
                length = int.Parse(text.AsSpan(lengthAt + 16, lineEnd - lengthAt - 16), System.Globalization.CultureInfo.InvariantCulture);
            }

            if (text.Length < head + 4 + length)
            {
                return count;
            }

            at = head + 4 + length;
            count++;
        }
    }

    private static Task<int> SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text));

    [Fact]
    public async Task Pipelined_requests_on_one_connection_are_answered_in_order_and_keep_it_open()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket,
            "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
            "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nAuthorization: Bearer t\r\n\r\nhello" +
            "HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n");

        // The HEAD answer has a Content-Length but no body, so read until its blank line.
        string reply = await ReadUntilAsync(socket, text => ApiCalls.CountOf(text, "HTTP/1.1 200 OK") == 3 && text.EndsWith("\r\n\r\n", StringComparison.Ordinal));

        Assert.Equal(3, ApiCalls.CountOf(reply, "HTTP/1.1 200 OK"));
        Assert.True(reply.IndexOf("GET /a", StringComparison.Ordinal) < reply.IndexOf("POST /b", StringComparison.Ordinal));
        Assert.DoesNotContain("Connection: close", reply, StringComparison.Ordinal);
        Assert.Equal(["GET /a ?x=1 auth= body=", "POST /b ? auth=Bearer t body=hello", "GET /c ? auth= body="], _seen);

        // HEAD answers the GET's headers without its body: the last response ends at its blank line.
        Assert.EndsWith("Content-Length: 6\r\nCache-Control: no-store\r\n\r\n", reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET /x HTTP/1.1\r\n\r\n", "400 Bad Request", "Host header")]
    [InlineData("GET /x HTTP/2.0\r\nHost: h\r\n\r\n", "505 HTTP Version Not Supported", "HTTP/1.1")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented", "chunked")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "400 Bad Request", "both")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400 Bad Request", "hexadecimal")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", "400 Bad Request", "CRLF")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1ff\r\n", "413 Content Too Large", "256 bytes")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400 Bad Request", "Content-Length")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", "400 Bad Request", "Content-Length")]
    [InlineData("GET x HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request", "must be a path starting with")]
    [InlineData("GET /x HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", "400 Bad Request", "folded")]
    [InlineData("G(T /x HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request", "method")]
    [InlineData("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 257\r\n\r\n", "413 Content Too Large", "256 bytes")]
    public async Task A_malformed_or_unsupported_request_gets_its_specific_status_and_the_connection_closes(string request, string status, string messagePart)
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, request);

        string reply = await ReadAsync(socket);

        Assert.StartsWith("HTTP/1.1 " + status + "\r\n", reply, StringComparison.Ordinal);
        Assert.Contains("Connection: close", reply, StringComparison.Ordinal);
        Assert.Contains(messagePart, reply, StringComparison.Ordinal);
        Assert.Empty(_seen);
    }

    [Fact]
    public async Task A_chunked_body_is_joined_and_the_next_pipelined_request_is_served()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket,
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n3;ext=1\r\n123\r\n0\r\nX-Trailer: t\r\n\r\n" +
            "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");

        string reply = await ReadAsync(socket, responses: 2);

        Assert.Equal(2, ApiCalls.CountOf(reply, "HTTP/1.1 200 OK"));
        Assert.Equal(["POST /c ? auth= body=body123", "GET /next ? auth= body="], _seen);
    }

    [Fact]
    public async Task A_head_larger_than_the_limit_gets_431()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, "GET /x HTTP/1.1\r\nHost: h\r\nX-Filler: " + new string('a', 2000) + "\r\n\r\n");

        string reply = await ReadAsync(socket);

        Assert.StartsWith("HTTP/1.1 431 ", reply, StringComparison.Ordinal);
        Assert.Empty(_seen);
    }

    [Fact]
    public async Task Expect_100_continue_is_answered_before_the_body_is_read()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, "POST /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        byte[] buffer = new byte[64];
        int n = await socket.ReceiveAsync(buffer);
        Assert.Equal("HTTP/1.1 100 Continue\r\n\r\n", Encoding.ASCII.GetString(buffer, 0, n));

        await SendAsync(socket, "body");
        string reply = await ReadAsync(socket, responses: 1);

        Assert.StartsWith("HTTP/1.1 200 OK", reply, StringComparison.Ordinal);
        Assert.Equal(["POST /c ? auth= body=body"], _seen);
    }

    [Fact]
    public async Task A_request_not_completed_within_the_request_timeout_gets_408_on_the_servers_clock()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, "GET /slow HTTP/1.1\r\nHo");
        await WaitUntilAsync(() => _time.PendingTimers > 0 && _time.EarliestDue <= TimeSpan.FromSeconds(10));

        _time.Advance(TimeSpan.FromSeconds(11));
        string reply = await ReadAsync(socket);

        Assert.StartsWith("HTTP/1.1 408 Request Timeout", reply, StringComparison.Ordinal);
        Assert.Empty(_seen);
    }

    [Fact]
    public async Task An_idle_kept_alive_connection_is_closed_after_the_idle_timeout()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, "GET /once HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadAsync(socket, responses: 1), StringComparison.Ordinal);
        await WaitUntilAsync(() => _time.PendingTimers == 1 && _time.EarliestDue > TimeSpan.FromSeconds(30));

        _time.Advance(TimeSpan.FromSeconds(61));

        Assert.Equal("", await ReadAsync(socket));
    }

    [Fact]
    public async Task Http_1_0_closes_after_the_response_unless_keep_alive_is_asked_for()
    {
        using Socket plain = await ConnectAsync();
        await SendAsync(plain, "GET /old HTTP/1.0\r\n\r\n");
        string reply = await ReadAsync(plain);
        Assert.StartsWith("HTTP/1.1 200 OK", reply, StringComparison.Ordinal);
        Assert.Contains("Connection: close", reply, StringComparison.Ordinal);

        using Socket kept = await ConnectAsync();
        await SendAsync(kept, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /again HTTP/1.0\r\n\r\n");
        Assert.Equal(2, ApiCalls.CountOf(await ReadAsync(kept), "200 OK"));
    }

    [Fact]
    public async Task A_failing_handler_gets_500_and_the_server_goes_on()
    {
        using Socket socket = await ConnectAsync();
        await SendAsync(socket, "GET /throw HTTP/1.1\r\nHost: h\r\n\r\nGET /fine HTTP/1.1\r\nHost: h\r\n\r\n");

        string reply = await ReadAsync(socket, responses: 2);

        Assert.StartsWith("HTTP/1.1 500 Internal Server Error", reply, StringComparison.Ordinal);
        Assert.Contains("GET /fine", reply, StringComparison.Ordinal);
    }

    [Fact]
    public async Task At_the_limit_a_new_connection_takes_the_place_of_the_one_waiting_longest()
    {
        var open = new List<Socket>();
        for (int i = 0; i < Limits.MaxConnections; i++)
        {
            Socket s = await ConnectAsync();
            await SendAsync(s, $"GET /kept-{i} HTTP/1.1\r\nHost: h\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200", await ReadAsync(s, responses: 1), StringComparison.Ordinal);
            open.Add(s);
            _time.Advance(TimeSpan.FromSeconds(1)); // each waits a second longer than the next
        }

        using Socket late = await ConnectAsync();
        await SendAsync(late, "GET /late HTTP/1.1\r\nHost: h\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", await ReadAsync(late, responses: 1), StringComparison.Ordinal);
        Assert.Equal("", await ReadAsync(open[0])); // the longest waiting was closed: end of stream, no answer
        Assert.Equal(1, _server.Evicted);
        Assert.Equal(0, _server.Refused);
        await SendAsync(open[1], "GET /still HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadAsync(open[1], responses: 1), StringComparison.Ordinal);
        open.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task Only_when_every_connection_is_answering_is_a_new_one_refused_with_503_and_retry_after()
    {
        var open = new List<Socket>();
        for (int i = 0; i < Limits.MaxConnections; i++)
        {
            Socket s = await ConnectAsync();
            await SendAsync(s, "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n");
            open.Add(s);
        }

        await WaitUntilAsync(() => Volatile.Read(ref _holding) == Limits.MaxConnections);
        using Socket extra = await ConnectAsync();
        string reply = await ReadAsync(extra);
        _release.Set();

        Assert.StartsWith("HTTP/1.1 503 Service Unavailable", reply, StringComparison.Ordinal);
        Assert.Contains("Retry-After: 1", reply, StringComparison.Ordinal);
        Assert.Equal(1, _server.Refused);
        Assert.Equal(0, _server.Evicted);
        foreach (Socket s in open)
        {
            Assert.StartsWith("HTTP/1.1 200", await ReadAsync(s, responses: 1), StringComparison.Ordinal);
            s.Dispose();
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
