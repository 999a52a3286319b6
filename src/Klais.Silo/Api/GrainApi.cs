using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Grains;
using Klais.Grains.Device;
using Klais.Grains.Node;
using Klais.Grains.Runtime;

namespace Klais.Silo.Api;

/// <summary>
/// The grain API on every silo. Calls about one grain go to the silo serving its partition: answered here when
/// this silo does, forwarded over HTTP to the owner (from klais.silos) otherwise, and answered 503 with
/// Retry-After while the partition has no owner (a rebalance). Listings (nodes, anomalies, events) gather the
/// answers of every live silo. Grain state is read on the grain thread, as a turn of its own.
/// </summary>
internal static class GrainApi
{
    public const string ForwardedHeader = "X-Klais-Forwarded-By";
    public const string OwnerHeader = "X-Klais-Owner";
    public const int MaxTtlSeconds = 604_800;
    public const int MaxReasonLength = 200;
    private static readonly TimeSpan TurnTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // JSON for programs, never embedded in HTML
    };

    public static void Map(WebApplication app, SiloRuntime silo, HttpClient http)
    {
        var api = new Handlers(silo, http);
        app.MapGet("/health", (Delegate)api.Health);
        app.MapGet("/openapi.json", (Delegate)OpenApi);
        app.MapGet("/api/silos", (Delegate)api.Silos);
        app.MapGet("/api/devices/{id}", (Delegate)api.GetDevice);
        app.MapPost("/api/devices/{id}/block", (Delegate)api.Block);
        app.MapDelete("/api/devices/{id}/block", (Delegate)api.Unblock);
        app.MapGet("/api/nodes", (Delegate)api.Nodes);
        app.MapGet("/api/nodes/{id}", (Delegate)api.GetNode);
        app.MapGet("/api/swarm", (Delegate)api.Swarm);
        app.MapGet("/api/anomalies", (Delegate)api.Anomalies);
        app.MapGet("/api/events", (Delegate)api.Events);
    }

    /// <summary>The hand-written OpenAPI 3.0 description (Api/openapi.json, embedded).</summary>
    public static IResult OpenApi()
    {
        using Stream stream = typeof(GrainApi).Assembly.GetManifestResourceStream("openapi.json")!;
        using var reader = new StreamReader(stream);
        return Results.Text(reader.ReadToEnd(), "application/json");
    }

    /// <summary>Reads a block request: <c>{"ttl_seconds": 1..604800, "reason": "..."}</c>; null and a message when it is not one.</summary>
    internal static (BlockCommand? Command, string? Error) ParseBlock(ReadOnlySpan<byte> body)
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

            return (new BlockCommand { TtlSeconds = seconds, Reason = text.Trim() }, null);
        }
    }

    internal static IResult Moving(int partition) =>
        Results.Json(new ErrorView($"Partition {partition} is moving between silos (no silo serves it right now); retry shortly."), Json,
            statusCode: StatusCodes.Status503ServiceUnavailable);

    internal static IResult BadRequest(string message) => Results.Json(new ErrorView(message), Json, statusCode: StatusCodes.Status400BadRequest);

    internal static IResult NotFound(string message) => Results.Json(new ErrorView(message), Json, statusCode: StatusCodes.Status404NotFound);

    private sealed class Handlers(SiloRuntime silo, HttpClient http)
    {
        private readonly Router _router = new(silo, http);

        public IResult Health() => Results.Json(new HealthView("ok", silo.SiloId, silo.Options.ApiEndpoint, silo.Partitions, silo.Owned,
            silo.Counters.ProcessedRecords, silo.Counters.ReplayedRecords, silo.Counters.SkippedRecords, silo.Counters.StateRecordsWritten,
            silo.Counters.OffsetCommits, silo.Counters.PartitionRestores, silo.Counters.FencedStateRecords, silo.Counters.EvictedGrains,
            silo.Counters.ControlUpdatesWritten), Json);

        public IResult Silos() => Results.Json(silo.Directory.Silos().Select(s => new SiloView(s.Announcement.SiloId, s.Announcement.ApiEndpoint,
            s.Announcement.Partitions.Select(p => new PartitionView(p.Partition, p.Epoch, p.Serving)).ToList(),
            DeviceView.Time(s.Announcement.HeartbeatUnixMs), DeviceView.Time(s.Announcement.StartedUnixMs), s.Alive, s.Announcement.Leaving)).ToList(), Json);

        public Task<IResult> GetDevice(string id, HttpContext context) =>
            !GrainKey.IsValidId(id) ? Task.FromResult(BadId(id)) : _router.Route(context, GrainKey.Device(id), () => DeviceTurn(id));

        public async Task<IResult> Block(string id, HttpContext context)
        {
            if (!GrainKey.IsValidId(id))
            {
                return BadId(id);
            }

            byte[] body = await ReadBody(context);
            (BlockCommand? command, string? error) = ParseBlock(body);
            if (command is null)
            {
                return BadRequest(error!);
            }

            return await _router.Route(context, GrainKey.Device(id), () => Command(new DeviceCommand { DeviceId = id, Block = command }), body);
        }

        public async Task<IResult> Unblock(string id, HttpContext context)
        {
            if (!GrainKey.IsValidId(id))
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

            return await _router.Route(context, GrainKey.Device(id),
                () => Command(new DeviceCommand { DeviceId = id, Unblock = new UnblockCommand { Reason = reason } }), body);
        }

        public Task<IResult> GetNode(string id, HttpContext context) => !GrainKey.IsValidId(id) ? Task.FromResult(BadId(id))
            : _router.Route(context, GrainKey.Node(id), () => silo.RunTurnAsync<IResult?>(() =>
            {
                (bool served, IGrain? grain, _) = silo.Peek(GrainKey.Node(id));
                return !served ? null : grain is NodeGrain node
                    ? Results.Json(NodeView.From(node, silo.SiloId, DateTimeOffset.UtcNow, silo.Options.Controller.NodeStaleAfter), Json)
                    : NotFound($"Node {id} has never reported.");
            }).WaitAsync(TurnTimeout));

        public Task<IResult> Swarm(HttpContext context) => _router.Route(context, GrainKey.Fleet, () => silo.RunTurnAsync<IResult?>(() =>
            silo.FleetView() is { } view ? Results.Json(SwarmView.From(view, silo.SiloId), Json) : null).WaitAsync(TurnTimeout));

        public Task<IResult> Nodes(HttpContext context) => _router.Gather(context, () => silo.RunTurnAsync(() =>
            silo.Hosts.SelectMany(h => h.Active.Select(a => a.Grain).Concat(PassiveNodes(h)))
                .OfType<NodeGrain>().Where(n => n.State.Reports > 0).OrderBy(n => n.Id, StringComparer.Ordinal)
                .Select(n => (object)NodeView.From(n, silo.SiloId, DateTimeOffset.UtcNow, silo.Options.Controller.NodeStaleAfter)).ToList()),
            "node_id");

        public Task<IResult> Anomalies(HttpContext context) => _router.Gather(context, () => silo.RunTurnAsync(() =>
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            double z = silo.Options.Consensus.AnomalyZ;
            return silo.Hosts.SelectMany(h => h.Devices(includePassiveBlocked: true))
                .Where(d => d.IsBlocked(now) || d.State.Votes.Count > 0 || Math.Abs(d.State.AnomalyScore) >= z)
                .DistinctBy(d => d.Id).OrderByDescending(d => d.IsBlocked(now)).ThenByDescending(d => Math.Abs(d.State.AnomalyScore))
                .Select(d => (object)new AnomalyView(d.Id, silo.SiloId, d.State.AnomalyScore, d.State.Votes.Count, d.IsBlocked(now),
                    d.State.Block?.Reason, d.State.Block is { } b ? DeviceView.Time(b.ExpiresUnixMs) : null)).ToList();
        }), "device_id");

        public Task<IResult> Events(HttpContext context) => _router.Gather(context,
            () => Task.FromResult(silo.Events.Snapshot().Select(e => (object)EventView.From(e)).ToList()), "at", descending: true, limit: 500);

        private static IEnumerable<IGrain> PassiveNodes(PartitionHost host) =>
            host.Passive.Where(p => p.Key.StartsWith("node/", StringComparison.Ordinal) && GrainKey.TryParse(p.Key, out _))
                .Select(p => host.Peek(p.Key, GrainKey.Node(p.Key["node/".Length..]))).OfType<IGrain>();

        private Task<IResult?> DeviceTurn(string id) => silo.RunTurnAsync<IResult?>(() =>
        {
            (bool served, IGrain? grain, PartitionHost? host) = silo.Peek(GrainKey.Device(id));
            return !served ? null : grain is DeviceGrain device
                ? Results.Json(DeviceView.From(device, silo.SiloId, host!, DateTimeOffset.UtcNow), Json)
                : NotFound($"Device {id} has no state: no edge has reported it.");
        }).WaitAsync(TurnTimeout);

        private async Task<IResult?> Command(DeviceCommand command)
        {
            bool handled = await silo.SendCommandAsync(command, CommandTimeout);
            if (!handled)
            {
                return Results.Json(new ErrorView("Accepted: written to klais.reports; the device grain has not handled it yet."), Json,
                    statusCode: StatusCodes.Status202Accepted);
            }

            return await DeviceTurn(command.DeviceId);
        }

        private static IResult BadId(string id) =>
            BadRequest($"\"{id}\" is not a valid id: it must be 1 to {GrainKey.MaxIdLength} characters with no control characters.");

        private static async Task<byte[]> ReadBody(HttpContext context)
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            return buffer.ToArray();
        }
    }
}
