using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Klais.Edge.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Api;

/// <summary>
/// The edge's HTTP API: <c>GET /health</c>, <c>GET /stats</c>, <c>GET /metrics</c>, <c>POST /config</c>.
/// JSON is written by hand with Utf8JsonWriter: the field names are a public contract (snake_case, stable), and
/// nothing here runs unless somebody asks.
/// </summary>
internal static partial class EdgeApi
{
    public const int MaxConfigBodyBytes = 16 * 1024;

    public static string Version { get; } =
        typeof(EdgeApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static void Map(WebApplication app, EdgeNode node)
    {
        ILogger log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Klais.Edge.Api");

        app.MapGet("/health", () => Json(w => EdgeStatsWriter.WriteHealth(w, node)));
        app.MapGet("/stats", () => Json(w => EdgeStatsWriter.WriteStats(w, node)));
        app.MapGet("/metrics", () => Results.Text(PrometheusText.Write(node), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapPost("/config", async (HttpContext http) =>
        {
            if (!Authorized(http, node.Config.ApiToken))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Problem(StatusCodes.Status401Unauthorized, "This endpoint needs 'Authorization: Bearer <token>' (KLAIS_API_TOKEN is set).");
            }

            byte[]? body = await ReadBodyAsync(http.Request, MaxConfigBodyBytes).ConfigureAwait(false);
            if (body is null)
            {
                return Problem(StatusCodes.Status413PayloadTooLarge, $"The body is larger than {MaxConfigBodyBytes} bytes.");
            }

            ConfigChange change = ConfigChange.Parse(body, out string? error);
            if (error is not null)
            {
                LogConfigRejected(log, error);
                return Problem(StatusCodes.Status400BadRequest, error);
            }

            double rate = change.NewRate ?? node.Dam.CurrentRate;
            long burst = change.BurstSize ?? node.Dam.CurrentBurst;
            node.Dam.Reconfigure(rate, burst);
            LogConfigChanged(log, rate, burst);
            return Json(w =>
            {
                w.WriteNumber("rate_limit", rate);
                w.WriteNumber("burst_size", burst);
            });
        });
    }

    private static bool Authorized(HttpContext http, string? token)
    {
        if (token is null)
        {
            return true;
        }

        string header = http.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        return header.StartsWith(prefix, StringComparison.Ordinal)
            && CryptographicEquals(header[prefix.Length..], token);
    }

    private static bool CryptographicEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(chunk).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    internal static IResult Json(Action<Utf8JsonWriter> writeProperties)
    {
        var output = new MemoryStream();
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }

        return Results.Bytes(output.ToArray(), "application/json");
    }

    private static IResult Problem(int status, string message) =>
        Results.Json(new Dictionary<string, object> { ["error"] = message, ["status"] = status }, statusCode: status);

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
