using System.Globalization;
using System.Text.Json;
using Klais.Contracts.Configuration;
using Klais.Contracts.Security;
using Klais.Grains;

namespace Klais.Silo.Api;

/// <summary>
/// The policy routes of the grain API, over PolicyGrain("fleet"): create a version, roll it out, pause, resume,
/// abort (role admin), list and describe (role read). Bodies are checked completely: a 400 names every bad field at once. 404 for an unknown
/// version, 409 for a transition the version's state does not allow.
/// </summary>
internal static class PolicyApi
{
    public const int MaxDescriptionLength = 500;

    private static readonly string[] RolloutFields =
        ["stages", "bake_seconds", "max_drop_share_increase", "max_degradation_increase", "max_kafka_lag_increase", "max_report_age_seconds", "ack_timeout_seconds"];

    public static void Map(WebApplication app)
    {
        app.MapPost("/api/policies", Create).RequireRole(ApiRole.Admin);
        app.MapGet("/api/policies", (IGrainFactory grains) => GrainApi.Call(null, async () => GrainApi.Items(await Fleet(grains).List())));
        app.MapGet("/api/policies/{version}", (string version, IGrainFactory grains) => WithVersion(version, async v =>
            await Fleet(grains).Describe(v) is { } policy ? GrainApi.Ok(policy) : GrainApi.NotFound($"Policy version {v} does not exist.")));
        app.MapPost("/api/policies/{version}/rollout", Rollout).RequireRole(ApiRole.Admin);
        app.MapPost("/api/policies/{version}/pause", (string version, IGrainFactory grains) => WithVersion(version, async v => Answer(await Fleet(grains).Pause(v)))).RequireRole(ApiRole.Admin);
        app.MapPost("/api/policies/{version}/resume", (string version, IGrainFactory grains) => WithVersion(version, async v => Answer(await Fleet(grains).ResumeRollout(v)))).RequireRole(ApiRole.Admin);
        app.MapPost("/api/policies/{version}/abort", (string version, IGrainFactory grains) => WithVersion(version, async v => Answer(await Fleet(grains).Abort(v)))).RequireRole(ApiRole.Admin);
    }

    private static IPolicyGrain Fleet(IGrainFactory grains) => grains.GetGrain<IPolicyGrain>(GrainKeys.Fleet);

    private static async Task<IResult> Create(HttpContext context, IGrainFactory grains)
    {
        (PolicyDraft? draft, IReadOnlyList<string> problems) = ParsePolicy(await GrainApi.ReadBody(context));
        if (draft is null)
        {
            return Invalid(problems);
        }

        return await Stored(async () =>
        {
            PolicyResult result = await Fleet(grains).Create(draft);
            return result.Status == PolicyStatus.Ok
                ? Results.Json(new PolicyCreatedView(result.Version), GrainApi.Json, statusCode: StatusCodes.Status201Created)
                : Answer(result);
        });
    }

    private static async Task<IResult> Rollout(string version, HttpContext context, IGrainFactory grains)
    {
        byte[] body = await GrainApi.ReadBody(context);
        return await WithVersion(version, async v =>
        {
            (RolloutRequest? plan, IReadOnlyList<string> problems) = ParseRollout(body);
            return plan is null ? Invalid(problems) : Answer(await Fleet(grains).Rollout(v, plan));
        });
    }

    private static Task<IResult> WithVersion(string text, Func<long, Task<IResult>> call) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long version) && version > 0
            ? Stored(() => call(version))
            : Task.FromResult(GrainApi.BadRequest($"\"{text}\" is not a policy version: versions are whole numbers from 1."));

    /// <summary>
    /// A policy call through <see cref="GrainApi.Call"/>; a decision the grain could not write (the store is away) is a
    /// 503 too: nothing was changed and the call may be repeated.
    /// </summary>
    private static Task<IResult> Stored(Func<Task<IResult>> call) => GrainApi.Call(null, async () =>
    {
        try
        {
            return await call();
        }
        catch (InvalidOperationException ex)
        {
            return Results.Json(new ErrorView(ex.Message), GrainApi.Json, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    });

    private static IResult Answer(PolicyResult result) => result.Status switch
    {
        PolicyStatus.Ok => GrainApi.Ok(result.Policy),
        PolicyStatus.Invalid => Invalid(result.Problems),
        PolicyStatus.NotFound => GrainApi.NotFound(string.Join(" ", result.Problems)),
        _ => Results.Json(new ErrorView(string.Join(" ", result.Problems)), GrainApi.Json, statusCode: StatusCodes.Status409Conflict),
    };

    private static IResult Invalid(IReadOnlyList<string> problems) =>
        Results.Json(new ProblemsView(string.Join(" ", problems), problems), GrainApi.Json, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>
    /// Reads <c>{"settings": {"dam_max_rate": 2000, ...}, "description": "..."}</c>: every problem (unknown fields,
    /// unknown settings, values out of the edge's bounds) or a draft. Values may be numbers or strings.
    /// </summary>
    internal static (PolicyDraft? Draft, IReadOnlyList<string> Problems) ParsePolicy(ReadOnlySpan<byte> body)
    {
        var problems = new List<string>();
        using JsonDocument? doc = Parse(body, problems, "{\"settings\": {\"dam_max_rate\": 2000}, \"description\": \"...\"}");
        if (doc is null)
        {
            return (null, problems);
        }

        JsonElement root = doc.RootElement;
        foreach (JsonProperty p in root.EnumerateObject().Where(p => p.Name is not ("settings" or "description")))
        {
            problems.Add($"{p.Name} is not a field of a policy; a policy has settings and description.");
        }

        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetProperty("settings", out JsonElement given) || given.ValueKind != JsonValueKind.Object)
        {
            problems.Add("settings is required: an object of setting names (" + string.Join(", ", PolicySettings.Names) + ") to values.");
        }
        else
        {
            foreach (JsonProperty s in given.EnumerateObject())
            {
                switch (s.Value.ValueKind)
                {
                    case JsonValueKind.Number:
                        settings[s.Name] = s.Value.GetRawText();
                        break;
                    case JsonValueKind.String:
                        settings[s.Name] = s.Value.GetString()!;
                        break;
                    default:
                        problems.Add($"settings.{s.Name} is {s.Value.GetRawText()}; a setting's value is a number or a string.");
                        settings[s.Name] = "";
                        break;
                }
            }

            if (settings.Count == 0)
            {
                problems.Add("settings must name at least one setting.");
            }

            // Values already reported as not numbers or strings are not reported twice.
            problems.AddRange(PolicySettings.Validate(settings).Where(p => !settings.Any(s => s.Value.Length == 0 && p.Contains($"(settings.{s.Key})", StringComparison.Ordinal))));
        }

        string description = "";
        if (root.TryGetProperty("description", out JsonElement d))
        {
            if (d.ValueKind != JsonValueKind.String || d.GetString()!.Length > MaxDescriptionLength)
            {
                problems.Add($"description must be a string of at most {MaxDescriptionLength} characters.");
            }
            else
            {
                description = d.GetString()!.Trim();
            }
        }

        return problems.Count == 0 ? (new PolicyDraft(settings, description), []) : (null, problems);
    }

    /// <summary>
    /// Reads <c>{"stages": ["canary", 50, 100], "bake_seconds": 10, ...gate thresholds}</c>; absent fields take the
    /// defaults of <see cref="RolloutRequest"/>. Every problem, or the plan.
    /// </summary>
    internal static (RolloutRequest? Plan, IReadOnlyList<string> Problems) ParseRollout(ReadOnlySpan<byte> body)
    {
        var problems = new List<string>();
        var plan = new RolloutRequest();
        if (body.IsEmpty)
        {
            return (plan, []);
        }

        using JsonDocument? doc = Parse(body, problems, "{\"stages\": [\"canary\", 50, 100], \"bake_seconds\": 10}");
        if (doc is null)
        {
            return (null, problems);
        }

        JsonElement root = doc.RootElement;
        foreach (JsonProperty p in root.EnumerateObject().Where(p => !RolloutFields.Contains(p.Name)))
        {
            problems.Add($"{p.Name} is not a field of a rollout; it takes {string.Join(", ", RolloutFields)}.");
        }

        if (root.TryGetProperty("stages", out JsonElement stages))
        {
            if (stages.ValueKind != JsonValueKind.Array)
            {
                problems.Add("stages must be an array like [\"canary\", 50, 100].");
            }
            else
            {
                var list = new List<int>();
                int i = 0;
                foreach (JsonElement s in stages.EnumerateArray())
                {
                    if (s.ValueKind == JsonValueKind.String && s.GetString() is "canary")
                    {
                        list.Add(RolloutRequest.Canary);
                    }
                    else if (s.ValueKind == JsonValueKind.String && s.GetString() is "all")
                    {
                        list.Add(100);
                    }
                    else if (s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out int percent) && percent >= 1)
                    {
                        list.Add(percent);
                    }
                    else
                    {
                        problems.Add($"stages[{i}] is {s.GetRawText()}; a stage is \"canary\", \"all\" or a percentage from 1 to 100.");
                        list.Add(-1);
                    }

                    i++;
                }

                plan = plan with { Stages = list };
            }
        }

        plan = plan with
        {
            BakeSeconds = Whole(root, "bake_seconds", plan.BakeSeconds, problems),
            MaxDegradationIncrease = Whole(root, "max_degradation_increase", plan.MaxDegradationIncrease, problems),
            MaxKafkaLagIncrease = Whole(root, "max_kafka_lag_increase", plan.MaxKafkaLagIncrease, problems),
            MaxReportAgeSeconds = Whole(root, "max_report_age_seconds", plan.MaxReportAgeSeconds, problems),
            AckTimeoutSeconds = Whole(root, "ack_timeout_seconds", plan.AckTimeoutSeconds, problems),
            MaxDropShareIncrease = root.TryGetProperty("max_drop_share_increase", out JsonElement share)
                ? share.ValueKind == JsonValueKind.Number ? share.GetDouble() : Fail(problems, "max_drop_share_increase must be a number from 0 to 1.", double.NaN)
                : plan.MaxDropShareIncrease,
        };
        // The plan's own rules, without repeating a field already reported as not a number or a bad stage.
        problems.AddRange(plan.Validate().Where(p => !problems.Any(q => q.Split(' ')[0] == p.Split(' ')[0])));
        return problems.Count == 0 ? (plan, []) : (null, problems);
    }

    private static int Whole(JsonElement root, string name, long fallback, List<string> problems)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
        {
            return (int)fallback;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int n) ? n : Fail(problems, $"{name} is {value.GetRawText()}; it must be a whole number.", -1);
    }

    private static T Fail<T>(List<string> problems, string problem, T value)
    {
        problems.Add(problem);
        return value;
    }

    private static JsonDocument? Parse(ReadOnlySpan<byte> body, List<string> problems, string example)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException ex)
        {
            problems.Add("The body is not valid JSON: " + ex.Message);
            return null;
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            problems.Add("The body must be a JSON object like " + example + ".");
            return null;
        }

        return doc;
    }
}
