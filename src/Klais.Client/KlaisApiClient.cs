using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Klais.Grains;

namespace Klais.Client;

/// <summary>
/// The grain API of any silo (every silo answers for every grain), typed: the records are those the grains return.
/// A bearer token is sent when given (roles: reads need <c>read</c>, block and unblock <c>operate</c>). A non-2xx
/// answer throws <see cref="KlaisApiException"/> with the status and the API's message, except a 404 for a single
/// device or node, which is null.
/// </summary>
public sealed class KlaisApiClient : IDisposable
{
    /// <summary>The API's JSON: snake_case field names.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>A client of the silo at <paramref name="silo"/> (e.g. <c>http://127.0.0.1:8081</c>).</summary>
    public KlaisApiClient(Uri silo, string? token = null, HttpMessageHandler? handler = null)
        : this(new HttpClient(handler ?? new HttpClientHandler()) { BaseAddress = silo, Timeout = TimeSpan.FromSeconds(15) }, token, ownsHttp: true)
    {
    }

    /// <summary>A client over an <see cref="HttpClient"/> whose base address is a silo's API (not disposed with this one).</summary>
    public KlaisApiClient(HttpClient http, string? token = null)
        : this(http, token, ownsHttp: false)
    {
    }

    private KlaisApiClient(HttpClient http, string? token, bool ownsHttp)
    {
        _http = http;
        _ownsHttp = ownsHttp;
        Token = token;
    }

    /// <summary>The bearer token sent with every request; null sends none.</summary>
    public string? Token { get; set; }

    public Task<FleetSnapshot> GetSwarmAsync(CancellationToken cancel = default) => Get<FleetSnapshot>("/api/swarm", cancel)!;

    public async Task<IReadOnlyList<NodeSnapshot>> ListNodesAsync(CancellationToken cancel = default) =>
        (await Get<Listing<NodeSnapshot>>("/api/nodes", cancel))!.Values;

    public async Task<IReadOnlyList<AnomalyEntry>> ListAnomaliesAsync(CancellationToken cancel = default) =>
        (await Get<Listing<AnomalyEntry>>("/api/anomalies", cancel))!.Values;

    public async Task<IReadOnlyList<GrainEvent>> ListEventsAsync(CancellationToken cancel = default) =>
        (await Get<Listing<GrainEvent>>("/api/events", cancel))!.Values;

    public async Task<IReadOnlyList<SiloInfo>> ListSilosAsync(CancellationToken cancel = default) =>
        (await Get<List<SiloInfo>>("/api/silos", cancel))!;

    /// <summary>A device as its grain sees it; null when no edge has reported it.</summary>
    public Task<DeviceSnapshot?> GetDeviceAsync(string deviceId, CancellationToken cancel = default) =>
        Get<DeviceSnapshot>("/api/devices/" + Uri.EscapeDataString(deviceId), cancel, nullWhenMissing: true);

    /// <summary>A node's latest report; null when it never reported.</summary>
    public Task<NodeSnapshot?> GetNodeAsync(string nodeId, CancellationToken cancel = default) =>
        Get<NodeSnapshot>("/api/nodes/" + Uri.EscapeDataString(nodeId), cancel, nullWhenMissing: true);

    /// <summary>Blocks a device on every edge for <paramref name="ttlSeconds"/> (role <c>operate</c>).</summary>
    public async Task<DeviceSnapshot> BlockAsync(string deviceId, int ttlSeconds, string reason, CancellationToken cancel = default)
    {
        using HttpRequestMessage request = Request(HttpMethod.Post, $"/api/devices/{Uri.EscapeDataString(deviceId)}/block");
        request.Content = JsonContent.Create(new { ttl_seconds = ttlSeconds, reason });
        return (await Send<DeviceSnapshot>(request, nullWhenMissing: false, cancel))!;
    }

    /// <summary>Lifts a block (role <c>operate</c>); null when the device was never seen.</summary>
    public async Task<DeviceSnapshot?> UnblockAsync(string deviceId, string reason, CancellationToken cancel = default)
    {
        using HttpRequestMessage request = Request(HttpMethod.Delete, $"/api/devices/{Uri.EscapeDataString(deviceId)}/block");
        request.Content = JsonContent.Create(new { reason });
        return await Send<DeviceSnapshot>(request, nullWhenMissing: true, cancel);
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task<T?> Get<T>(string path, CancellationToken cancel, bool nullWhenMissing = false)
        where T : class
    {
        using HttpRequestMessage request = Request(HttpMethod.Get, path);
        return await Send<T>(request, nullWhenMissing, cancel);
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (Token is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    private async Task<T?> Send<T>(HttpRequestMessage request, bool nullWhenMissing, CancellationToken cancel)
        where T : class
    {
        using HttpResponseMessage response = await _http.SendAsync(request, cancel);
        if (response.IsSuccessStatusCode)
        {
            return await response.Content.ReadFromJsonAsync<T>(Json, cancel)
                ?? throw new KlaisApiException(response.StatusCode, $"{request.Method} {request.RequestUri} answered an empty body.");
        }

        if (nullWhenMissing && response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        string message;
        try
        {
            message = (await response.Content.ReadFromJsonAsync<ErrorBody>(Json, cancel))?.Error ?? response.ReasonPhrase ?? "";
        }
        catch (JsonException)
        {
            message = response.ReasonPhrase ?? "";
        }

        throw new KlaisApiException(response.StatusCode, $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {message}");
    }

    /// <summary>A listing: <c>{"items": [...]}</c>.</summary>
    private sealed record Listing<T>(IReadOnlyList<T>? Items)
    {
        public IReadOnlyList<T> Values => Items ?? [];
    }

    private sealed record ErrorBody(string? Error);
}

/// <summary>A non-2xx answer of the grain API: <see cref="Status"/> (400, 401, 403, 404, 503, …) and the API's message.</summary>
public sealed class KlaisApiException : Exception
{
    public KlaisApiException(HttpStatusCode status, string message)
        : base(message) => Status = status;

    public KlaisApiException()
    {
    }

    public KlaisApiException(string message)
        : base(message)
    {
    }

    public KlaisApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HttpStatusCode Status { get; }
}

/// <summary>A silo Orleans' membership knows (<c>GET /api/silos</c>).</summary>
public sealed record SiloInfo(
    string SiloId,
    string Status,
    string SiloAddress,
    string? ApiEndpoint,
    int? Activations,
    DateTime Started,
    DateTime LastAlive);
