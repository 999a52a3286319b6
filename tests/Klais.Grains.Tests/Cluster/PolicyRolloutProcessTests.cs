using System.Text;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Kafka;
using Klais.Testing;
using Xunit.Abstractions;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// Fleet policy rollouts with real processes: three klais-silo on one redis-server, three klais-edge under a steady
/// load, the Kafka dev cluster. A good policy reaches the canary alone first, then the others; a policy that makes the
/// canary drop its traffic is rolled back by the grain; the grain survives the kill -9 of its silo mid-rollout;
/// pause, resume, abort and bad bodies through the API.
/// </summary>
[Collection(SiloClusterGroup.Name)]
[Trait("Category", "Process")]
public sealed class PolicyRolloutProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    /// <summary>The edges' overflow queue is small, so a Dam rate far below the load drops at once instead of queueing for minutes.</summary>
    private static readonly Dictionary<string, string> EdgeSettings = new() { ["KLAIS_DAM_QUEUE_MAX_MESSAGES"] = "200" };

    internal static async Task<FleetUnderTest> StartFleetAsync()
    {
        FleetUnderTest fleet = await FleetUnderTest.StartAsync(edges: 3, edgeSettings: EdgeSettings);
        Assert.True(await Eventually.TrueAsync(() => fleet.FormedAsync(fleet.Silos), TimeSpan.FromSeconds(60)), "the cluster never formed:\n" + fleet.Describe());
        fleet.StartLoad(perSecond: 300);
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await Task.Delay(200);
            (int status, JsonElement? nodes) = await fleet.CallAsync(fleet.Silos[0], HttpMethod.Get, "/api/nodes");
            return status == 200 && nodes!.Value.GetProperty("items").EnumerateArray()
                .Count(n => n.GetProperty("health").GetString() == "ok" && n.GetProperty("received_per_second").GetDouble() > 0) == 3;
        }, Deadline), "the three edges never all reported traffic:\n" + fleet.Describe());
        return fleet;
    }

    [Fact]
    public async Task A_good_policy_runs_on_the_canary_alone_during_its_bake_then_on_every_edge_with_pause_and_resume_between()
    {
        await using FleetUnderTest fleet = await StartFleetAsync();
        SiloProcess api = fleet.Silos[1];

        long version = await CreateAsync(fleet, api, """{"settings": {"dam_max_rate": 20000, "suspect_rate": 4000, "consensus_quorum": 3}, "description": "more headroom"}""");
        Assert.Equal(409, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/pause")).Status); // a draft is not rolling
        (int started, JsonElement? rolling) = await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/rollout", """{"stages": ["canary", 100], "bake_seconds": 15}""");
        Assert.Equal(200, started);
        Assert.Equal("rolling", rolling!.Value.GetProperty("state").GetString());

        // The canary applies it; while it bakes, exactly one edge runs it.
        JsonElement baking = await PolicyWhenAsync(fleet, api, version, p => p.GetProperty("bake_started").ValueKind != JsonValueKind.Null);
        Assert.Equal(0, baking.GetProperty("stage").GetInt32());
        for (int sample = 0; sample < 5; sample++)
        {
            Dictionary<string, long> versions = await fleet.EdgePolicyVersionsAsync();
            Assert.Equal(new Dictionary<string, long> { ["edge-1"] = version, ["edge-2"] = 0, ["edge-3"] = 0 }, versions);
            await Task.Delay(500);
        }

        // The silo-side setting waits for the last stage: every silo keeps its configured quorum during the canary.
        int[] quorums = await QuorumsAsync(fleet);
        Assert.Equal([2, 2, 2], quorums);

        // Paused longer than the bake: the stage holds.
        Assert.Equal("paused", (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/pause")).Body!.Value.GetProperty("state").GetString());
        await Task.Delay(TimeSpan.FromSeconds(16));
        JsonElement paused = await PolicyAsync(fleet, api, version);
        Assert.Equal(("paused", 0), (paused.GetProperty("state").GetString(), paused.GetProperty("stage").GetInt32()));
        Assert.Equal(0, (await fleet.EdgePolicyVersionsAsync())["edge-2"]);
        Assert.Equal("rolling", (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/resume")).Body!.Value.GetProperty("state").GetString());

        JsonElement complete = await PolicyWhenAsync(fleet, api, version, p => p.GetProperty("state").GetString() == "complete");
        Assert.True(await Eventually.TrueAsync(async () => (await QuorumsAsync(fleet)).All(q => q == 3), Deadline), "the silos never took quorum 3");
        Assert.Equal(version, complete.GetProperty("fleet_settings_version").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["edge-1"] = version, ["edge-2"] = version, ["edge-3"] = version }, await fleet.EdgePolicyVersionsAsync());
        foreach (string edge in new[] { "edge-1", "edge-2", "edge-3" })
        {
            JsonElement acked = complete.GetProperty("edges").GetProperty(edge);
            Assert.Equal((version, true), (acked.GetProperty("applied_version").GetInt64(), acked.GetProperty("healthy").GetBoolean()));
        }

        string[] outcomes = [.. complete.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("outcome").GetString()!)];
        output.WriteLine(string.Join(" | ", complete.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("detail").GetString())));
        Assert.Equal(["started", "applied", "paused", "resumed", "passed", "started", "fleet_settings", "applied", "passed", "complete"], outcomes);
        Assert.Equal(version, complete.GetProperty("fleet_version").GetInt64());

        // What the edge shows as in force: the version and the policy's settings, the others as configured.
        JsonElement stats = await fleet.Edges[2].GetJsonAsync("/stats");
        JsonElement policy = stats.GetProperty("control").GetProperty("policy");
        Assert.Equal((version, 20000.0, 4000.0, 50000.0), (policy.GetProperty("version").GetInt64(), policy.GetProperty("settings").GetProperty("dam_max_rate").GetDouble(),
            policy.GetProperty("settings").GetProperty("suspect_rate").GetDouble(), policy.GetProperty("settings").GetProperty("dam_burst_size").GetDouble()));
        Assert.Equal(version, (await fleet.Edges[2].GetJsonAsync("/health")).GetProperty("policy_version").GetInt64());
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await Task.Delay(200);
            return (await EventsAsync(fleet, api)).Any(e => e.Contains($"version {version} complete on 3 edges", StringComparison.Ordinal));
        }, Deadline));
    }

    /// <summary>The consensus quorum in force on each silo, as its <c>/health</c> says.</summary>
    private static async Task<int[]> QuorumsAsync(FleetUnderTest fleet) => [.. await Task.WhenAll(fleet.Silos.Select(async s =>
        (await fleet.CallAsync(s, HttpMethod.Get, "/health")).Body!.Value.GetProperty("fleet_policy").GetProperty("consensus").GetProperty("quorum").GetInt32()))];

    [Fact]
    public async Task A_policy_that_makes_the_canary_drop_its_traffic_is_rolled_back_and_never_reaches_the_others_and_abort_returns_the_canary()
    {
        await using FleetUnderTest fleet = await StartFleetAsync();
        SiloProcess api = fleet.Silos[0];

        long bad = await CreateAsync(fleet, api, """{"settings": {"dam_max_rate": 5, "dam_burst_size": 5}, "description": "far too tight"}""");
        Assert.Equal(200, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{bad}/rollout", """{"stages": ["canary", 100], "bake_seconds": 60}""")).Status);
        var seen = new HashSet<(string, long)>();
        JsonElement rolledBack = await PolicyWhenAsync(fleet, api, bad, p => p.GetProperty("state").GetString() == "rolled_back", async () =>
        {
            foreach ((string edge, long v) in await fleet.EdgePolicyVersionsAsync())
            {
                seen.Add((edge, v));
            }
        });
        JsonElement failed = rolledBack.GetProperty("history").EnumerateArray().Single(h => h.GetProperty("outcome").GetString() == "failed");
        output.WriteLine(failed.GetProperty("detail").GetString());
        Assert.Equal(("drop_share", "edge-1", "canary"), (failed.GetProperty("gate").GetString(), failed.GetProperty("node_id").GetString(), failed.GetProperty("stage").GetString()));
        Assert.Contains(seen, s => s == ("edge-1", bad));
        Assert.DoesNotContain(seen, s => s.Item1 != "edge-1" && s.Item2 == bad);

        // The event log takes the decision just after the grain wrote it (and after its records went to klais.control).
        List<string> events = [];
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await Task.Delay(200);
            events = await EventsAsync(fleet, api);
            return events.Any(e => e.Contains($"version {bad} rolled back", StringComparison.Ordinal));
        }, Deadline), "no rollback event: " + string.Join("; ", events));
        string rollback = Assert.Single(events, e => e.Contains($"version {bad} rolled back", StringComparison.Ordinal));
        Assert.Contains("gate drop_share failed", rollback, StringComparison.Ordinal);
        // Most of the canary's traffic, up to all of it (1.000 when the Dam's queue was full for the whole report).
        Assert.Matches(@"drop share (0\.[5-9]\d\d|1\.000) \(\d+(\.\d)?/s dropped of \d+(\.\d)?/s received\) against baseline 0\.0\d\d", rollback);

        // The canary returns to the version before (none: its configured rate), and the grain sees it confirmed.
        Assert.True(await Eventually.TrueAsync(async () => (await PolledVersionsAsync(fleet))["edge-1"] == 0, Deadline));
        Assert.Equal(10000, (await fleet.Edges[0].GetJsonAsync("/stats")).GetProperty("control").GetProperty("base_rate").GetDouble());
        await PolicyWhenAsync(fleet, api, bad, p => p.GetProperty("history").EnumerateArray().Any(h => h.GetProperty("outcome").GetString() == "reverted"));
        Assert.Equal(409, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{bad}/rollout", "{}")).Status);

        // Abort: the canary runs the next version, the operator aborts, the canary returns.
        long next = await CreateAsync(fleet, api, """{"settings": {"heavy_hitter_share": 0.2}}""");
        Assert.Equal(200, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{next}/rollout", """{"stages": ["canary", 100], "bake_seconds": 300}""")).Status);
        await PolicyWhenAsync(fleet, api, next, p => p.GetProperty("bake_started").ValueKind != JsonValueKind.Null);
        Assert.Equal(next, (await fleet.EdgePolicyVersionsAsync())["edge-1"]);
        Assert.Equal("aborted", (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{next}/abort")).Body!.Value.GetProperty("state").GetString());
        Assert.True(await Eventually.TrueAsync(async () => (await PolledVersionsAsync(fleet)).Values.All(v => v == 0), Deadline));
        Assert.Equal(409, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{next}/resume")).Status);

        // What klais.control holds: the canary's records only (each version, then its return to 0); nothing for the others.
        var policyRecords = TopicReader.ReadToEnd(fleet.KafkaBootstrap, ControlPlaneTopics.Control, TimeSpan.FromSeconds(30))
            .Where(r => r.Key is not null && Encoding.UTF8.GetString(r.Key).EndsWith("/policy", StringComparison.Ordinal))
            .Select(r => (Key: Encoding.UTF8.GetString(r.Key!), ControlUpdate.Parser.ParseFrom(r.Value).Policy.Version)).ToList();
        Assert.Equal([("edge-1/policy", bad), ("edge-1/policy", 0L), ("edge-1/policy", next), ("edge-1/policy", 0L)], policyRecords);
    }

    [Fact]
    public async Task Killing_the_silo_that_hosts_the_policy_grain_mid_rollout_resumes_it_from_the_same_stage_on_a_survivor()
    {
        const int bake = 45;
        await using FleetUnderTest fleet = await StartFleetAsync();
        long version = await CreateAsync(fleet, fleet.Silos[0], """{"settings": {"dam_max_rate": 15000}}""");
        Assert.Equal(200, (await fleet.CallAsync(fleet.Silos[0], HttpMethod.Post, $"/api/policies/{version}/rollout",
            $$"""{"stages": ["canary", 100], "bake_seconds": {{bake}}, "max_report_age_seconds": 60}""")).Status);
        JsonElement baking = await PolicyWhenAsync(fleet, fleet.Silos[0], version, p => p.GetProperty("bake_started").ValueKind != JsonValueKind.Null);
        DateTimeOffset bakeStarted = baking.GetProperty("bake_started").GetDateTimeOffset();
        SiloProcess victim = fleet.Silos.Single(s => s.Id == baking.GetProperty("owner_silo").GetString());
        SiloProcess[] survivors = [.. fleet.Silos.Where(s => s != victim)];
        output.WriteLine($"policy grain on {victim.Id}; kill -9");
        victim.Kill9();

        // Nobody calls the policy grain until well after its bake should have ended: only its reminder can bring it
        // back on a survivor. Meanwhile the canary alone runs the version.
        Assert.Equal(new Dictionary<string, long> { ["edge-1"] = version, ["edge-2"] = 0, ["edge-3"] = 0 }, await fleet.EdgePolicyVersionsAsync());
        TimeSpan quiet = bakeStarted.AddSeconds(bake + 30) - DateTimeOffset.UtcNow;
        await Task.Delay(quiet > TimeSpan.Zero ? quiet : TimeSpan.Zero);
        DateTimeOffset firstCall = DateTimeOffset.UtcNow;

        JsonElement resumed = await PolicyWhenAsync(fleet, survivors[0], version, p => p.GetProperty("owner_silo").GetString() != victim.Id);
        output.WriteLine(string.Join(" | ", resumed.GetProperty("history").EnumerateArray().Select(h => $"{h.GetProperty("at")} {h.GetProperty("stage")} {h.GetProperty("outcome")}")));
        JsonElement[] history = [.. resumed.GetProperty("history").EnumerateArray()];
        JsonElement passed = history.Single(h => h.GetProperty("outcome").GetString() == "passed" && h.GetProperty("stage").GetString() == "canary");
        Assert.True(passed.GetProperty("at").GetDateTimeOffset() < firstCall, $"the canary's bake passed only when the API called the grain at {firstCall}: {passed}");
        Assert.Single(history, h => h.GetProperty("outcome").GetString() == "started" && h.GetProperty("stage").GetString() == "canary");
        Assert.Equal(bakeStarted, history.Single(h => h.GetProperty("outcome").GetString() == "applied" && h.GetProperty("stage").GetString() == "canary")
            .GetProperty("at").GetDateTimeOffset()); // the canary's stage was not started over on the survivor

        JsonElement complete = await PolicyWhenAsync(fleet, survivors[1], version, p => p.GetProperty("state").GetString() == "complete",
            timeout: TimeSpan.FromSeconds(240));
        Assert.Equal(["started", "applied", "passed", "started", "applied", "passed", "complete"],
            complete.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("outcome").GetString()));
        Assert.Equal(new Dictionary<string, long> { ["edge-1"] = version, ["edge-2"] = version, ["edge-3"] = version }, await fleet.EdgePolicyVersionsAsync());
    }

    [Fact]
    public async Task Bad_policy_and_rollout_bodies_get_400_naming_every_bad_field_and_unknown_versions_404()
    {
        await using FleetUnderTest fleet = await FleetUnderTest.StartAsync(silos: 1, edges: 0);
        SiloProcess api = fleet.Silos[0];

        (int status, JsonElement? body) = await fleet.CallAsync(api, HttpMethod.Post, "/api/policies",
            """{"settings": {"dam_max_rate": 0, "dam_burst_size": "many", "suspect_sources": 1000, "colour": 1, "report_interval_ms": [1]}, "description": 5, "owner": "me"}""");
        Assert.Equal(400, status);
        string[] problems = [.. body!.Value.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!)];
        output.WriteLine(string.Join("\n", problems));
        Assert.Equal(7, problems.Length);
        foreach (string field in new[] { "(settings.dam_max_rate)", "(settings.dam_burst_size)", "(settings.suspect_sources)", "settings.colour is", "settings.report_interval_ms is", "description must", "owner is" })
        {
            Assert.Single(problems, p => p.Contains(field, StringComparison.Ordinal));
            Assert.Contains(field, body.Value.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(400, (await fleet.CallAsync(api, HttpMethod.Post, "/api/policies", "[1]")).Status);
        Assert.Equal(400, (await fleet.CallAsync(api, HttpMethod.Post, "/api/policies", """{"description": "no settings"}""")).Status);
        long version = await CreateAsync(fleet, api, """{"settings": {"dam_max_rate": "2500"}}""");
        Assert.Equal(1, version);
        Assert.Equal("2500", (await PolicyAsync(fleet, api, version)).GetProperty("settings").GetProperty("dam_max_rate").GetString());

        (status, body) = await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/rollout",
            """{"stages": ["canary", 0, "most", 50], "bake_seconds": -5, "max_drop_share_increase": "x", "ack_timeout_seconds": 1.5, "speed": 1}""");
        Assert.Equal(400, status);
        problems = [.. body!.Value.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!)];
        output.WriteLine(string.Join("\n", problems));
        foreach (string field in new[] { "stages[1] ", "stages[2] ", "stages must end with 100", "bake_seconds ", "max_drop_share_increase ", "ack_timeout_seconds ", "speed " })
        {
            Assert.Single(problems, p => p.StartsWith(field, StringComparison.Ordinal));
        }

        Assert.Equal(7, problems.Length);
        Assert.Equal(404, (await fleet.CallAsync(api, HttpMethod.Get, "/api/policies/99")).Status);
        Assert.Equal(404, (await fleet.CallAsync(api, HttpMethod.Post, "/api/policies/99/rollout", "{}")).Status);
        Assert.Equal(404, (await fleet.CallAsync(api, HttpMethod.Post, "/api/policies/99/abort")).Status);
        Assert.Equal(400, (await fleet.CallAsync(api, HttpMethod.Get, "/api/policies/x1")).Status);
        Assert.Equal(409, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/rollout", "{}")).Status); // no edge reports
        Assert.Equal("draft", (await PolicyAsync(fleet, api, version)).GetProperty("state").GetString());
    }

    internal static async Task<long> CreateAsync(FleetUnderTest fleet, SiloProcess api, string body)
    {
        (int status, JsonElement? created) = await fleet.CallAsync(api, HttpMethod.Post, "/api/policies", body);
        Assert.True(status == 201, $"POST /api/policies answered {status}: {created}");
        return created!.Value.GetProperty("version").GetInt64();
    }

    private static async Task<JsonElement> PolicyAsync(FleetUnderTest fleet, SiloProcess api, long version)
    {
        (int status, JsonElement? policy) = await fleet.CallAsync(api, HttpMethod.Get, $"/api/policies/{version}");
        Assert.Equal(200, status);
        return policy!.Value;
    }

    /// <summary>The policy once <paramref name="condition"/> holds (polled, <paramref name="each"/> run at every poll); fails with the last view at the deadline.</summary>
    internal static async Task<JsonElement> PolicyWhenAsync(FleetUnderTest fleet, SiloProcess api, long version, Func<JsonElement, bool> condition,
        Func<Task>? each = null, TimeSpan? timeout = null)
    {
        JsonElement last = default;
        bool reached = await Eventually.TrueAsync(async () =>
        {
            await Task.Delay(200); // a poll costs the silo and the edges a request each: a few a second is enough
            if (each is not null)
            {
                await each();
            }

            (int status, JsonElement? policy) = await fleet.CallAsync(api, HttpMethod.Get, $"/api/policies/{version}");
            if (status != 200)
            {
                return false;
            }

            last = policy!.Value;
            return condition(last);
        }, timeout ?? Deadline);
        Assert.True(reached, $"policy {version} never reached the expected state: {last}\n{fleet.Describe()}");
        return last;
    }

    /// <summary>The edges' versions, after a pause: for polls.</summary>
    private static async Task<Dictionary<string, long>> PolledVersionsAsync(FleetUnderTest fleet)
    {
        await Task.Delay(200);
        return await fleet.EdgePolicyVersionsAsync();
    }

    private static async Task<List<string>> EventsAsync(FleetUnderTest fleet, SiloProcess api)
    {
        (int status, JsonElement? events) = await fleet.CallAsync(api, HttpMethod.Get, "/api/events");
        Assert.Equal(200, status);
        return [.. events!.Value.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("detail").GetString()!)];
    }
}
