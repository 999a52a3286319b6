using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Configuration;
using Klais.Contracts.Security;
using Klais.Edge.Api.Http;
using Klais.Edge.Configuration;
using Klais.Edge.Devices;
using Klais.Edge.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Api;

/// <summary>
/// The edge's HTTP API: <c>GET /health</c>, <c>/health/live</c>, <c>/health/ready</c>, <c>GET /stats</c>, <c>GET /metrics</c>, <c>POST /config</c>, the
/// blocklist and per-device limits (docs/edge.md).
/// JSON is written by hand with Utf8JsonWriter: the field names are a public contract (snake_case, stable), and
/// nothing here runs unless somebody asks. Served by <see cref="HttpApiServer"/>.
/// </summary>
internal sealed partial class EdgeApi
{
    public const int MaxConfigBodyBytes = 16 * 1024;
    private const string PrometheusType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly EdgeConfig _config;
    private readonly EdgeLifetime _lifetime;
    private readonly EdgeStatsWriter _stats;
    private readonly PrometheusText _prometheus;
    private readonly DevicePolicy _devices;
    private readonly Dam.Dam _dam;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    /// <param name="config">Tokens, and the control start timeout <c>/health/ready</c> names.</param>
    /// <param name="lifetime">Readiness.</param>
    /// <param name="stats"><c>/health</c> and <c>/stats</c>.</param>
    /// <param name="prometheus"><c>/metrics</c>.</param>
    /// <param name="devices">The blocklist and limits the API reads and changes.</param>
    /// <param name="dam">The rate and burst <c>POST /config</c> changes.</param>
    /// <param name="time">The clock of block expiries.</param>
    /// <param name="log">Where changes are logged.</param>
    public EdgeApi(EdgeConfig config, EdgeLifetime lifetime, EdgeStatsWriter stats, PrometheusText prometheus, DevicePolicy devices, Dam.Dam dam,
        TimeProvider time, ILogger<EdgeApi> log)
    {
        _config = config;
        _lifetime = lifetime;
        _stats = stats;
        _prometheus = prometheus;
        _devices = devices;
        _dam = dam;
        _time = time;
        _log = log;
    }

    public static string Version { get; } =
        typeof(EdgeApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private long _unauthorized;
    private long _forbidden;

    /// <summary>
    /// Checks the caller's role, then routes. <c>/health</c> and its <c>live</c> and <c>ready</c> are open to everyone (load balancers, orchestrators); reads
    /// need <c>read</c>; every change (<c>POST /config</c>, blocks, limits) needs <c>operate</c>. Unknown paths need
    /// <c>read</c> too, so that the API's shape is not told to strangers.
    /// </summary>
    public ApiResponse Handle(ApiRequest request)
    {
        if (request.Path is not ("/health" or "/health/live" or "/health/ready"))
        {
            ApiRole required = request.Method is "GET" or "HEAD" ? ApiRole.Read : ApiRole.Operate;
            ApiAccess access = _config.ApiTokens.Check(request.Authorization, required);
            if (!access.IsAllowed)
            {
                Interlocked.Increment(ref access.Status == 401 ? ref _unauthorized : ref _forbidden);
                ApiResponse denied = ApiResponse.Error(access.Status, access.Message!);
                return access.Status == 401 ? denied.WithHeader("WWW-Authenticate", "Bearer") : denied;
            }
        }

        return Route(request);
    }

    /// <summary>Routes one request. Unknown paths get 404 naming the endpoints; known paths with another method get 405.</summary>
    private ApiResponse Route(ApiRequest request) => request.Path switch
    {
        "/health" => Get(request, () => ApiResponse.Json(200, w =>
        {
            _stats.WriteHealth(w);
            w.WriteStartObject("api_access");
            w.WriteString("mode", _config.ApiTokens.Mode);
            w.WriteNumber("unauthorized", Interlocked.Read(ref _unauthorized));
            w.WriteNumber("forbidden", Interlocked.Read(ref _forbidden));
            w.WriteEndObject();
            w.WriteBoolean("ready", _lifetime.IsReady);
        })),
        "/health/live" => Get(request, () => ApiResponse.Json(200, w => w.WriteString("status", "live"))),
        "/health/ready" => Get(request, Ready),
        "/stats" => Get(request, () => ApiResponse.Json(200, w => _stats.WriteStats(w))),
        "/metrics" => Get(request, () => ApiResponse.Text(200, PrometheusType, _prometheus.Write())),
        "/config" => request.Method == "POST" ? Mutating(request, PostConfig) : MethodNotAllowed("POST"),
        "/blocklist" => request.Method switch
        {
            "GET" => GetBlocklist(),
            "POST" => Mutating(request, PostBlock),
            _ => MethodNotAllowed("GET, HEAD, POST"),
        },
        "/limits" => Get(request, GetLimits),
        _ when TryDevicePath(request.Path, "/blocklist/", out string? id, out ApiResponse? bad) => bad ?? (request.Method == "DELETE"
            ? Mutating(request, _ => DeleteBlock(id!))
            : MethodNotAllowed("DELETE")),
        _ when TryDevicePath(request.Path, "/limits/", out string? id, out ApiResponse? bad) => bad ?? request.Method switch
        {
            "PUT" => Mutating(request, r => PutLimit(id!, r)),
            "DELETE" => Mutating(request, _ => DeleteLimit(id!)),
            _ => MethodNotAllowed("PUT, DELETE"),
        },
        _ => ApiResponse.Error(404, $"No endpoint {request.Path}. Endpoints: GET /health, GET /health/live, GET /health/ready, GET /stats, GET /metrics, POST /config, " +
            "GET|POST /blocklist, DELETE /blocklist/{device_id}, GET /limits, PUT|DELETE /limits/{device_id}."),
    };

    /// <summary>
    /// 200 while the edge receives; 503 before (klais.control is being replayed: datagrams wait in the socket's
    /// buffer) and from SIGTERM on, so a load balancer sends traffic elsewhere.
    /// </summary>
    private ApiResponse Ready()
    {
        bool ready = _lifetime.IsReady;
        return ApiResponse.Json(ready ? 200 : 503, w =>
        {
            w.WriteString("status", ready ? "ready" : _lifetime.IsStopping ? "stopping" : "starting");
            if (!ready)
            {
                w.WriteString("reason", _lifetime.IsStopping
                    ? "SIGTERM: the edge stopped receiving and is draining to Kafka and the spill."
                    : string.Create(CultureInfo.InvariantCulture, $"Replaying klais.control before receiving (at most {_config.ControlStartTimeout.TotalSeconds:0.#} s, KLAIS_CONTROL_START_TIMEOUT_MS); datagrams wait in the socket's buffer, overflow counted in receive.kernel_drops."));
            }
        });
    }

    /// <summary>Matches <c>prefix{device_id}</c>; the id is percent-decoded and checked (a bad one answers 400).</summary>
    private static bool TryDevicePath(string path, string prefix, out string? deviceId, out ApiResponse? bad)
    {
        deviceId = null;
        bad = null;
        if (!path.StartsWith(prefix, StringComparison.Ordinal) || path.Length == prefix.Length || path.IndexOf('/', prefix.Length) >= 0)
        {
            return false;
        }

        deviceId = Uri.UnescapeDataString(path[prefix.Length..]);
        if (DevicePolicy.ValidateDeviceId(deviceId) is { } problem)
        {
            bad = ApiResponse.Error(400, problem);
        }

        return true;
    }

    /// <summary>A changing endpoint (its caller's role is checked in <see cref="Handle"/>): the body is bounded.</summary>
    private static ApiResponse Mutating(ApiRequest request, Func<ApiRequest, ApiResponse> change)
    {
        if (request.Body.Length > MaxConfigBodyBytes)
        {
            return ApiResponse.Error(413, $"The body is larger than {MaxConfigBodyBytes} bytes.");
        }

        return change(request);
    }

    private ApiResponse GetBlocklist()
    {
        IReadOnlyList<BlockEntry> blocked = _devices.ListBlocked();
        DateTimeOffset now = _time.GetUtcNow();
        return ApiResponse.Json(200, w =>
        {
            w.WriteString("enforced_in", _devices.EnforceInUserSpace ? "user_space" : "kernel");
            w.WriteNumber("count", blocked.Count);
            w.WriteStartArray("devices");
            foreach (BlockEntry e in blocked)
            {
                w.WriteStartObject();
                WriteBlock(w, e, now);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }

    private static void WriteBlock(Utf8JsonWriter w, BlockEntry e, DateTimeOffset now)
    {
        w.WriteString("device_id", e.DeviceId);
        w.WriteString("device_key", e.DeviceKey.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteString("reason", e.Reason);
        w.WriteString("source", e.Source == BlockSource.Operator ? "operator" : "control_plane");
        w.WriteString("blocked_at", e.BlockedAt);
        if (e.ExpiresAt is { } expires)
        {
            w.WriteString("expires_at", expires);
            w.WriteNumber("ttl_seconds_left", Math.Max(0, Math.Round((expires - now).TotalSeconds, 1)));
        }
        else
        {
            w.WriteNull("expires_at");
        }
    }

    private ApiResponse PostBlock(ApiRequest request)
    {
        BlockRequest? block = BlockRequest.Parse(request.Body.Span, out string? error);
        if (block is null)
        {
            return ApiResponse.Error(400, error!);
        }

        BlockEntry entry = _devices.Block(block.DeviceId, block.Ttl, block.Reason, BlockSource.Operator);
        LogBlocked(_log, entry.DeviceId, block.Ttl.TotalSeconds, entry.Reason);
        DateTimeOffset now = _time.GetUtcNow();
        return ApiResponse.Json(201, w => WriteBlock(w, entry, now));
    }

    private ApiResponse DeleteBlock(string deviceId)
    {
        if (!_devices.Unblock(deviceId))
        {
            return ApiResponse.Error(404, $"Device \"{deviceId}\" is not blocked.");
        }

        LogUnblocked(_log, deviceId);
        return ApiResponse.Json(200, w =>
        {
            w.WriteString("device_id", deviceId);
            w.WriteBoolean("blocked", false);
        });
    }

    private ApiResponse GetLimits()
    {
        IReadOnlyList<LimitEntry> limits = _devices.ListLimits();
        return ApiResponse.Json(200, w =>
        {
            w.WriteString("enforced_in", _devices.EnforceInUserSpace ? "user_space" : "kernel");
            w.WriteNumber("count", limits.Count);
            w.WriteStartArray("devices");
            foreach (LimitEntry e in limits)
            {
                w.WriteStartObject();
                WriteLimit(w, e);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
    }

    private static void WriteLimit(Utf8JsonWriter w, LimitEntry e)
    {
        w.WriteString("device_id", e.DeviceId);
        w.WriteString("device_key", e.DeviceKey.ToString("x16", CultureInfo.InvariantCulture));
        w.WriteNumber("rate", e.Rate);
        w.WriteNumber("burst", e.Burst);
    }

    private ApiResponse PutLimit(string deviceId, ApiRequest request)
    {
        LimitRequest? limit = LimitRequest.Parse(request.Body.Span, out string? error);
        if (limit is null)
        {
            return ApiResponse.Error(400, error!);
        }

        LimitEntry entry = _devices.SetLimit(deviceId, limit.Rate, limit.Burst);
        LogLimitSet(_log, deviceId, limit.Rate, limit.Burst);
        return ApiResponse.Json(200, w => WriteLimit(w, entry));
    }

    private ApiResponse DeleteLimit(string deviceId)
    {
        if (!_devices.RemoveLimit(deviceId))
        {
            return ApiResponse.Error(404, $"Device \"{deviceId}\" has no limit of its own.");
        }

        LogLimitRemoved(_log, deviceId);
        return ApiResponse.Json(200, w =>
        {
            w.WriteString("device_id", deviceId);
            w.WriteBoolean("limited", false);
        });
    }

    private static ApiResponse Get(ApiRequest request, Func<ApiResponse> answer) =>
        request.Method == "GET" ? answer() : MethodNotAllowed("GET, HEAD");

    private static ApiResponse MethodNotAllowed(string allowed) =>
        ApiResponse.Error(405, $"This endpoint answers {allowed} only.").WithHeader("Allow", allowed);

    private ApiResponse PostConfig(ApiRequest request)
    {
        ConfigChange change = ConfigChange.Parse(request.Body.Span, out string? error);
        if (error is not null)
        {
            LogConfigRejected(_log, error);
            return ApiResponse.Error(400, error);
        }

        double rate = change.NewRate ?? _dam.CurrentRate;
        long burst = change.BurstSize ?? _dam.CurrentBurst;
        _dam.Reconfigure(rate, burst);
        LogConfigChanged(_log, rate, burst);
        return ApiResponse.Json(200, w =>
        {
            w.WriteNumber("rate_limit", rate);
            w.WriteNumber("burst_size", burst);
        });
    }

    [LoggerMessage(EventId = EventIds.ConfigChanged, Level = LogLevel.Information, Message = "POST /config: Dam rate {Rate}/s, burst {Burst}")]
    private static partial void LogConfigChanged(ILogger logger, double rate, long burst);

    [LoggerMessage(EventId = EventIds.DeviceBlocked, Level = LogLevel.Information, Message = "POST /blocklist: {DeviceId} blocked for {TtlSeconds} s: {Reason}")]
    private static partial void LogBlocked(ILogger logger, string deviceId, double ttlSeconds, string reason);

    [LoggerMessage(EventId = EventIds.DeviceUnblocked, Level = LogLevel.Information, Message = "DELETE /blocklist: {DeviceId} unblocked")]
    private static partial void LogUnblocked(ILogger logger, string deviceId);

    [LoggerMessage(EventId = EventIds.DeviceLimitSet, Level = LogLevel.Information, Message = "PUT /limits: {DeviceId} limited to {Rate}/s, burst {Burst}")]
    private static partial void LogLimitSet(ILogger logger, string deviceId, double rate, long burst);

    [LoggerMessage(EventId = EventIds.DeviceLimitRemoved, Level = LogLevel.Information, Message = "DELETE /limits: {DeviceId} follows the defaults again")]
    private static partial void LogLimitRemoved(ILogger logger, string deviceId);

    [LoggerMessage(EventId = EventIds.ConfigRejected, Level = LogLevel.Warning, Message = "POST /config rejected: {Error}")]
    private static partial void LogConfigRejected(ILogger logger, string error);
}

/// <summary>
/// A validated <c>POST /config</c> body: <c>{"new_rate": 20000, "burst_size": 50000}</c>, either field optional but not
/// both. The bounds are those of <c>KLAIS_DAM_MAX_RATE</c> and <c>KLAIS_DAM_BURST_SIZE</c> (<see cref="PolicySettings"/>).
/// </summary>
internal readonly record struct ConfigChange(double? NewRate, long? BurstSize)
{
    private static readonly PolicySetting Rate = PolicySettings.DamMaxRate;
    private static readonly PolicySetting Burst = PolicySettings.DamBurstSize;

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
                        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out double r) && double.IsFinite(r) && r > Rate.Min && r <= Rate.Max)
                        {
                            rate = r;
                        }
                        else
                        {
                            problems.Add($"new_rate is {p.Value.GetRawText()}. It must be a number greater than {Rate.Min.ToString(CultureInfo.InvariantCulture)} and at most {Rate.Max.ToString(CultureInfo.InvariantCulture)}.");
                        }

                        break;
                    case "burst_size":
                        if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt64(out long b) && b >= Burst.Min && b <= Burst.Max)
                        {
                            burst = b;
                        }
                        else
                        {
                            problems.Add($"burst_size is {p.Value.GetRawText()}. It must be a whole number from {Burst.Min.ToString(CultureInfo.InvariantCulture)} to {Burst.Max.ToString(CultureInfo.InvariantCulture)}.");
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
