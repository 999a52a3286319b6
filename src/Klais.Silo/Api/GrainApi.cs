using Klais.Contracts.Security;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Grains.Control;
using Klais.Grains.Storage;
using Klais.Grains.Policy;
using Klais.Grains.Swarm;
using Klais.Silo.Configuration;
using Klais.Silo.Ingestion;
using Orleans.Runtime;

namespace Klais.Silo.Api;

/// <summary>
/// The grain API on every silo. Any silo answers for any grain: the call goes through Orleans, which routes it to
/// the silo hosting the activation (or activates it). Listings come from the index grains, never from a scan of
/// activations. Errors are JSON <c>{"error": "..."}</c>: 400 for a bad id or body, 404 for an unknown grain, 409 for
/// a policy transition its state does not allow, 503 when the cluster could not answer in time.
/// </summary>
internal static class GrainApi
{
    public const int MaxTtlSeconds = 604_800;
    public const int MaxReasonLength = 200;
    public const int MaxEvents = 500;

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // JSON for programs, never embedded in HTML
    };

    public static void Map(WebApplication app)
    {
        app.MapGet("/health", Health).WithMetadata(ApiRoles.Open);
        app.MapGet("/openapi.json", OpenApi);
        app.MapGet("/api/silos", Silos);
        app.MapGet("/api/devices/{id}", (string id, IGrainFactory grains) => Call(id, async () =>
            await grains.GetGrain<IDeviceGrain>(id).Describe() is { } device ? Ok(device) : NotFound($"Device {id} has no state: no edge has reported it.")));
        app.MapPost("/api/devices/{id}/block", Block).RequireRole(ApiRole.Operate);
        app.MapDelete("/api/devices/{id}/block", Unblock).RequireRole(ApiRole.Operate);
        app.MapGet("/api/nodes", (IGrainFactory grains) => Call(null, async () => Items(await grains.GetGrain<INodeIndexGrain>(GrainKeys.Fleet).List())));
        app.MapGet("/api/nodes/{id}", (string id, IGrainFactory grains) => Call(id, async () =>
            await grains.GetGrain<INodeGrain>(id).Describe() is { } node ? Ok(node) : NotFound($"Node {id} has never reported.")));
        app.MapGet("/api/swarm", (IGrainFactory grains) => Call(null, async () => Ok(await grains.GetGrain<ISwarmGrain>(GrainKeys.Fleet).Describe())));
        app.MapGet("/api/trends", Trends);
        app.MapGet("/api/anomalies", (IGrainFactory grains) => Call(null, async () => Items(await grains.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet).List())));
        app.MapGet("/api/events", (IGrainFactory grains) => Call(null, async () => Items(await grains.GetGrain<IEventLogGrain>(GrainKeys.Fleet).List(MaxEvents))));
        app.MapGet("/api/history", History);
        app.MapGet("/api/top-talkers", (IGrainFactory grains) => Call(null, async () => Items(await grains.GetGrain<IFleetHistoryGrain>(GrainKeys.Fleet).TopTalkers())));
        PolicyApi.Map(app);
    }

    /// <summary>The fleet history grain's samples, oldest first; <c>?since=</c> (Unix milliseconds) returns only newer ones.</summary>
    private static Task<IResult> History(HttpContext context, IGrainFactory grains)
    {
        DateTimeOffset? since = null;
        if (context.Request.Query["since"] is { Count: > 0 } given)
        {
            if (!long.TryParse(given.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long ms)
                || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            {
                return Task.FromResult(BadRequest($"since is \"{given}\"; it must be a time in Unix milliseconds."));
            }

            since = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }

        return Call(null, async () => Results.Json(new HistoryView(
            (int)Klais.Grains.History.FleetHistoryGrain.Interval.TotalMilliseconds, Klais.Grains.History.FleetHistoryRing.Capacity,
            await grains.GetGrain<IFleetHistoryGrain>(GrainKeys.Fleet).List(since)), Json));
    }

    /// <summary>The hand-written OpenAPI 3.0 description (Api/openapi.json, embedded).</summary>
    public static IResult OpenApi()
    {
        using Stream stream = typeof(GrainApi).Assembly.GetManifestResourceStream("openapi.json")!;
        using var reader = new StreamReader(stream);
        return Results.Text(reader.ReadToEnd(), "application/json");
    }

    private static IResult Health(SiloConfig config, StateWriteHealth writes, IngestionStatus ingestion, IControlPublisher control, BurstModelService burstModel, ApiRoles roles,
        FleetPolicySettings fleet)
    {
        bool failing = writes.Failing;
        BurstModelView model = burstModel.Status;
        FleetSettingsView policy = fleet.InForce;
        ConsensusOptions consensus = fleet.Consensus;
        return Results.Json(new HealthView(
            failing || model.Degraded ? "degraded" : "ok",
            config.SiloId,
            config.DevelopmentMode ? "development" : "redis",
            config.DevelopmentMode ? "development mode: one silo, state and reminders in memory, nothing survives a restart (set KLAIS_REDIS)" : null,
            config.Redis is null ? null : RedisEndpoints(config.Redis),
            new StateWritesView(failing ? "failing" : "ok", writes.Succeeded, writes.Failed, writes.LastFailure, writes.LastError),
            new IngestionView(ingestion.Partitions, ingestion.ConsumedRecords, ingestion.AppliedReports, ingestion.RejectedRecords,
                ingestion.BatchesHandled, ingestion.UncommittedBatches, ingestion.OffsetCommits, ingestion.OffsetCommitFailures,
                ingestion.GrainCallFailures, ingestion.LastProblem),
            control.Published,
            model.Degraded ? "DEGRADED_ML" : "NORMAL",
            model.Error is { } error ? ["The burst model is unavailable; the Holt heuristic is in force. " + error] : [],
            model,
            new ApiAccessView(config.ApiTokens.Mode, config.ApiTokens.IsOpen ? ApiTokens.OpenWarning : null, roles.Unauthorized, roles.Forbidden),
            new FleetPolicyView(policy.Version, policy.Settings,
                new ConsensusInForceView(consensus.Quorum, consensus.VoteWindow.TotalSeconds, consensus.BlockTtl.TotalSeconds), burstModel.Pinned)),
            Json, statusCode: StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>GET /api/trends?window_seconds=300&amp;horizon_seconds=300</c>: least-squares lines through the fleet's and each
    /// edge's rate over the window (10 to 600 s), forecast the horizon (0 to 86400 s) ahead.
    /// </summary>
    private static Task<IResult> Trends(HttpContext context, IGrainFactory grains)
    {
        (int? window, string? windowError) = QueryInt(context, "window_seconds", 300, 10, RateHistory.MaxSeconds);
        (int? horizon, string? horizonError) = QueryInt(context, "horizon_seconds", 300, 0, 86_400);
        string? unknown = context.Request.Query.Keys.FirstOrDefault(k => k is not ("window_seconds" or "horizon_seconds"));
        string? error = windowError ?? horizonError
            ?? (unknown is null ? null : $"Unknown parameter \"{unknown}\"; /api/trends takes window_seconds and horizon_seconds.");
        if (error is not null)
        {
            return Task.FromResult(BadRequest(error));
        }

        return Call(null, async () => Ok(await grains.GetGrain<ISwarmGrain>(GrainKeys.Fleet).Trends(window!.Value, horizon!.Value)));
    }

    /// <summary>An optional whole-number query parameter in [min, max]: its value, or the default, or a message naming it.</summary>
    internal static (int? Value, string? Error) QueryInt(HttpContext context, string name, int fallback, int min, int max)
    {
        if (!context.Request.Query.TryGetValue(name, out Microsoft.Extensions.Primitives.StringValues values))
        {
            return (fallback, null);
        }

        string text = values.ToString();
        return values.Count == 1 && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value)
            && value >= min && value <= max
            ? (value, null)
            : (null, $"{name} is \"{text}\"; it must be a whole number from {min} to {max}.");
    }

    private static Task<IResult> Silos(IGrainFactory grains) => Call(null, async () =>
    {
        IManagementGrain management = grains.GetGrain<IManagementGrain>(0);
        MembershipEntry[] hosts = await management.GetDetailedHosts(onlyActive: false);
        SiloAddress[] active = hosts.Where(h => h.Status == SiloStatus.Active).Select(h => h.SiloAddress).ToArray();
        Dictionary<SiloAddress, int> activations = active.Length == 0 ? []
            : (await management.GetRuntimeStatistics(active)).Zip(active).ToDictionary(p => p.Second, p => p.First.ActivationCount);
        IReadOnlyList<SiloRegistration> registry = await grains.GetGrain<ISiloRegistryGrain>(GrainKeys.Fleet).List();
        return Ok(hosts.OrderBy(h => h.SiloName, StringComparer.Ordinal).ThenByDescending(h => h.StartTime).Select(h => new SiloView(
            h.SiloName, h.Status.ToString(), h.SiloAddress.ToString(),
            registry.FirstOrDefault(r => r.SiloAddress == h.SiloAddress.ToString())?.ApiEndpoint
                ?? registry.FirstOrDefault(r => r.SiloId == h.SiloName)?.ApiEndpoint,
            activations.TryGetValue(h.SiloAddress, out int count) ? count : null,
            h.StartTime, h.IAmAliveTime)).ToList());
    });

    private static async Task<IResult> Block(string id, HttpContext context, IGrainFactory grains)
    {
        if (!GrainKeys.IsValidId(id))
        {
            return BadId(id);
        }

        (BlockRequest? request, string? error) = ParseBlock(await ReadBody(context));
        return request is null ? BadRequest(error!)
            : await Call(id, async () => Ok(await grains.GetGrain<IDeviceGrain>(id).Block(request.TtlSeconds, request.Reason)));
    }

    private static async Task<IResult> Unblock(string id, HttpContext context, IGrainFactory grains)
    {
        if (!GrainKeys.IsValidId(id))
        {
            return BadId(id);
        }

        byte[] body = await ReadBody(context);
        string reason = "operator";
        if (body.Length > 0)
        {
            try
            {
                using JsonDocument doc = JsonDocument.Parse(body);
                if (doc.RootElement.ValueKind != JsonValueKind.Object
                    || doc.RootElement.TryGetProperty("reason", out JsonElement r) && (r.ValueKind != JsonValueKind.String || r.GetString()!.Length > MaxReasonLength))
                {
                    return BadRequest($"The body is optional; when given it must be {{\"reason\": \"...\"}} with at most {MaxReasonLength} characters.");
                }

                reason = doc.RootElement.TryGetProperty("reason", out JsonElement given) ? "operator: " + given.GetString() : reason;
            }
            catch (JsonException ex)
            {
                return BadRequest("The body is not valid JSON: " + ex.Message);
            }
        }

        return await Call(id, async () => await grains.GetGrain<IDeviceGrain>(id).Unblock(reason) is { } device
            ? Ok(device) : NotFound($"Device {id} has no state: no edge has reported it."));
    }

    /// <summary>Reads a block request: <c>{"ttl_seconds": 1..604800, "reason": "..."}</c>; null and a message when it is not one.</summary>
    internal static (BlockRequest? Request, string? Error) ParseBlock(ReadOnlySpan<byte> body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException ex)
        {
            return (null, "The body is not valid JSON: " + ex.Message);
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, "The body must be a JSON object like {\"ttl_seconds\": 600, \"reason\": \"...\"}.");
            }

            string? unknown = root.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => n is not ("ttl_seconds" or "reason"));
            if (unknown is not null)
            {
                return (null, $"Unknown field \"{unknown}\"; a block takes ttl_seconds and reason.");
            }

            if (!root.TryGetProperty("ttl_seconds", out JsonElement ttl))
            {
                return (null, "ttl_seconds is required.");
            }

            if (ttl.ValueKind != JsonValueKind.Number || !ttl.TryGetInt32(out int seconds) || seconds is < 1 or > MaxTtlSeconds)
            {
                return (null, $"ttl_seconds is {ttl.GetRawText()}; it must be a whole number from 1 to {MaxTtlSeconds}.");
            }

            if (!root.TryGetProperty("reason", out JsonElement reason))
            {
                return (null, "reason is required.");
            }

            if (reason.ValueKind != JsonValueKind.String || reason.GetString() is not { } text || string.IsNullOrWhiteSpace(text) || text.Length > MaxReasonLength)
            {
                return (null, $"reason must be a non-empty string of at most {MaxReasonLength} characters.");
            }

            return (new BlockRequest(seconds, text.Trim()), null);
        }
    }

    /// <summary>
    /// Runs a grain call for a route: a bad id is 400, a call the cluster could not answer in time (a silo just died,
    /// storage away while activating) is 503 with Retry-After.
    /// </summary>
    internal static async Task<IResult> Call(string? id, Func<Task<IResult>> call)
    {
        if (id is not null && !GrainKeys.IsValidId(id))
        {
            return BadId(id);
        }

        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is TimeoutException or SiloUnavailableException or OrleansException)
        {
            return Results.Json(new ErrorView("The cluster could not answer in time (" + ex.GetType().Name + ": " + ex.Message + "); retry shortly."), Json,
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    internal static IResult Ok<T>(T value) => Results.Json(value, Json);

    /// <summary>A listing: <c>{"items": [...]}</c>, so fields can be added beside the items later.</summary>
    internal static IResult Items<T>(IReadOnlyList<T> items) => Results.Json(new ItemsView<T>(items), Json);

    internal static IResult BadRequest(string message) => Results.Json(new ErrorView(message), Json, statusCode: StatusCodes.Status400BadRequest);

    internal static IResult NotFound(string message) => Results.Json(new ErrorView(message), Json, statusCode: StatusCodes.Status404NotFound);

    private static IResult BadId(string id) =>
        BadRequest($"\"{id}\" is not a valid id: it must be 1 to {GrainKeys.MaxIdLength} characters with no control characters.");

    private static string RedisEndpoints(string configuration) =>
        string.Join(",", StackExchange.Redis.ConfigurationOptions.Parse(configuration).EndPoints.Select(e => e.ToString()));

    internal static async Task<byte[]> ReadBody(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
