using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Klais.Edge.Api.Http;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Api;

/// <summary>
/// The edge's HTTP API: <c>GET /health</c>, <c>GET /stats</c>, <c>GET /metrics</c>, <c>POST /config</c>.
/// JSON is written by hand with Utf8JsonWriter: the field names are a public contract (snake_case, stable), and
/// nothing here runs unless somebody asks. Served by <see cref="HttpApiServer"/>.
/// </summary>
internal sealed partial class EdgeApi
{
    public const int MaxConfigBodyBytes = 16 * 1024;
    private const string PrometheusType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly EdgeNode _node;
    private readonly ILogger _log;

    public EdgeApi(EdgeNode node, ILogger log)
    {
        _node = node;
        _log = log;
    }

    public static string Version { get; } =
        typeof(EdgeApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Routes one request. Unknown paths get 404 naming the endpoints; known paths with another method get 405.</summary>
    public ApiResponse Handle(ApiRequest request) => request.Path switch
    {
        "/health" => Get(request, () => ApiResponse.Json(200, w => EdgeStatsWriter.WriteHealth(w, _node))),
        "/stats" => Get(request, () => ApiResponse.Json(200, w => EdgeStatsWriter.WriteStats(w, _node))),
        "/metrics" => Get(request, () => ApiResponse.Text(200, PrometheusType, PrometheusText.Write(_node))),
        "/config" => request.Method == "POST" ? PostConfig(request) : MethodNotAllowed("POST"),
        _ => ApiResponse.Error(404, $"No endpoint {request.Path}. Endpoints: GET /health, GET /stats, GET /metrics, POST /config."),
    };

    private static ApiResponse Get(ApiRequest request, Func<ApiResponse> answer) =>
        request.Method == "GET" ? answer() : MethodNotAllowed("GET, HEAD");

    private static ApiResponse MethodNotAllowed(string allowed) =>
        ApiResponse.Error(405, $"This endpoint answers {allowed} only.").WithHeader("Allow", allowed);

    private ApiResponse PostConfig(ApiRequest request)
    {
        if (!Authorized(request, _node.Config.ApiToken))
        {
            return ApiResponse.Error(401, "This endpoint needs 'Authorization: Bearer <token>' (KLAIS_API_TOKEN is set).")
                .WithHeader("WWW-Authenticate", "Bearer");
        }

        if (request.Body.Length > MaxConfigBodyBytes)
        {
            return ApiResponse.Error(413, $"The body is larger than {MaxConfigBodyBytes} bytes.");
        }

        ConfigChange change = ConfigChange.Parse(request.Body.Span, out string? error);
        if (error is not null)
        {
            LogConfigRejected(_log, error);
            return ApiResponse.Error(400, error);
        }

        double rate = change.NewRate ?? _node.Dam.CurrentRate;
        long burst = change.BurstSize ?? _node.Dam.CurrentBurst;
        _node.Dam.Reconfigure(rate, burst);
        LogConfigChanged(_log, rate, burst);
        return ApiResponse.Json(200, w =>
        {
            w.WriteNumber("rate_limit", rate);
            w.WriteNumber("burst_size", burst);
        });
    }

    private static bool Authorized(ApiRequest request, string? token)
    {
        if (token is null)
        {
            return true;
        }

        const string prefix = "Bearer ";
        string header = request.Authorization ?? "";
        return header.StartsWith(prefix, StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[prefix.Length..]), Encoding.UTF8.GetBytes(token));
    }

    [LoggerMessage(EventId = EventIds.ConfigChanged, Level = LogLevel.Information, Message = "POST /config: Dam rate {Rate}/s, burst {Burst}")]
    private static partial void LogConfigChanged(ILogger logger, double rate, long burst);

    [LoggerMessage(EventId = EventIds.ConfigRejected, Level = LogLevel.Warning, Message = "POST /config rejected: {Error}")]
    private static partial void LogConfigRejected(ILogger logger, string error);
}

/// <summary>A validated <c>POST /config</c> body: <c>{"new_rate": 20000, "burst_size": 50000}</c>, either field optional but not both.</summary>
internal readonly record struct ConfigChange(double? NewRate, long? BurstSize)
{
    public const double MaxRate = 100_000_000;
    public const long MaxBurst = 1_000_000_000;

    public static ConfigChange Parse(ReadOnlySpan<byte> body, out string? error)
    {
        error = null;
        double? rate = null;
        long? burst = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException e)
        {
            error = "The body is not valid JSON: " + e.Message;
            return default;
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "The body must be a JSON object like {\"new_rate\": 20000, \"burst_size\": 50000}.";
                return default;
            }

            var problems = new List<string>();
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "new_rate":
                        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out double r) && double.IsFinite(r) && r > 0 && r <= MaxRate)
                        {
                            rate = r;
                        }
                        else
                        {
                            problems.Add($"new_rate is {p.Value.GetRawText()}. It must be a number greater than 0 and at most {MaxRate.ToString(CultureInfo.InvariantCulture)}.");
                        }

                        break;
                    case "burst_size":
                        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt64(out long b) && b is >= 1 and <= MaxBurst)
                        {
                            burst = b;
                        }
                        else
                        {
                            problems.Add($"burst_size is {p.Value.GetRawText()}. It must be a whole number from 1 to {MaxBurst.ToString(CultureInfo.InvariantCulture)}.");
                        }

                        break;
                    default:
                        problems.Add($"\"{p.Name}\" is not a setting that can be changed here; known: new_rate, burst_size.");
                        break;
                }
            }

            if (problems.Count == 0 && rate is null && burst is null)
            {
                problems.Add("The body changes nothing: give new_rate, burst_size or both.");
            }

            if (problems.Count > 0)
            {
                error = string.Join(" ", problems);
                return default;
            }
        }

        return new ConfigChange(rate, burst);
    }
}
