using System.Text.Json;
using Klais.Edge.Hosting;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains;
using Klais.Testing;

namespace Klais.Edge.Tests.Control;

/// <summary>
/// DEGRADED_ML end to end: the silo's burst model file (KLAIS_BURST_MODEL) → the silo's model service → the swarm
/// grain's burst advice on klais.control → the edge's degradation level, and back when the file is repaired.
/// </summary>
[Collection(ControlPlaneFixture.Collection)]
public sealed class BurstModelDegradationTests(ControlPlaneFixture plane) : IClassFixture<ControlPlaneFixture>
{
    private const string ShippedVersion = "sha256:7fe965235f29";

    [Fact]
    public async Task A_corrupt_burst_model_is_DEGRADED_ML_on_the_silo_and_an_edge_until_a_good_model_replaces_it()
    {
        File.WriteAllText(plane.BurstModelPath, "this is not an ONNX model");
        await plane.WaitServingAsync();
        using var silo = new HttpClient { BaseAddress = new Uri(await plane.SiloUrlAsync()) };
        string expectedError = $"Burst model {plane.BurstModelPath}: not a valid ONNX model";

        JsonElement health = await GetAsync(silo, "/health");
        Assert.Equal(("degraded", "DEGRADED_ML"), (health.GetProperty("status").GetString(), health.GetProperty("degradation").GetString()));
        JsonElement model = health.GetProperty("model");
        Assert.Equal("heuristic", model.GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("version").ValueKind);
        Assert.StartsWith(expectedError, model.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains(expectedError, Assert.Single(health.GetProperty("degradation_reasons").EnumerateArray()).GetString(), StringComparison.Ordinal);

        await using EdgeHarness edge = await plane.StartEdgeAsync("edge-ml");
        Assert.True(await Eventually.TrueAsync(() => edge.Node.Degradation.Level == EdgeDegradation.DegradedMl, TimeSpan.FromSeconds(30)),
            $"the edge is at level {edge.Node.Degradation.Level}, not DEGRADED_ML");
        JsonElement edgeHealth = await edge.GetJsonAsync("health");
        Assert.Equal((1, "DEGRADED_ML", "degraded"), (edgeHealth.GetProperty("degradation").GetInt32(),
            edgeHealth.GetProperty("degradation_name").GetString(), edgeHealth.GetProperty("status").GetString()));
        Assert.Contains(expectedError, Assert.Single(edgeHealth.GetProperty("degradation_reasons").EnumerateArray()).GetString(), StringComparison.Ordinal);
        JsonElement advised = (await edge.GetJsonAsync("stats")).GetProperty("control").GetProperty("burst_model");
        Assert.Equal("heuristic", advised.GetProperty("kind").GetString());

        JsonElement swarm = (await GetAsync(silo, "/api/swarm")).GetProperty("model");
        Assert.Equal(("heuristic", true), (swarm.GetProperty("kind").GetString(), swarm.GetProperty("degraded").GetBoolean()));
        Assert.StartsWith(expectedError, swarm.GetProperty("error").GetString(), StringComparison.Ordinal);

        // The operator puts a good model in place the way docs/learning.md says: a new file renamed over the old one.
        File.Copy(BurstModelOptions.ShippedModel, plane.BurstModelPath + ".new");
        File.Move(plane.BurstModelPath + ".new", plane.BurstModelPath, overwrite: true);
        Assert.True(await Eventually.TrueAsync(() => edge.Node.Degradation.Level == EdgeDegradation.Normal, TimeSpan.FromSeconds(30)),
            $"the edge stays at level {edge.Node.Degradation.Level}: {string.Join(" ", edge.Node.Degradation.Reasons)}");
        edgeHealth = await edge.GetJsonAsync("health");
        Assert.Equal((0, "NORMAL", "ok"), (edgeHealth.GetProperty("degradation").GetInt32(),
            edgeHealth.GetProperty("degradation_name").GetString(), edgeHealth.GetProperty("status").GetString()));

        health = await GetAsync(silo, "/health");
        Assert.Equal(("ok", "NORMAL"), (health.GetProperty("status").GetString(), health.GetProperty("degradation").GetString()));
        model = health.GetProperty("model");
        Assert.Equal(("onnx", ShippedVersion, JsonValueKind.Null),
            (model.GetProperty("kind").GetString(), model.GetProperty("version").GetString(), model.GetProperty("error").ValueKind));
        // The swarm has the model back; it answers once it holds a minute of fleet history, the heuristic until then.
        swarm = (await GetAsync(silo, "/api/swarm")).GetProperty("model");
        Assert.Equal((ShippedVersion, JsonValueKind.Null, false),
            (swarm.GetProperty("version").GetString(), swarm.GetProperty("error").ValueKind, swarm.GetProperty("degraded").GetBoolean()));
    }

    [Fact]
    public async Task Trends_are_served_by_the_silo_with_their_window_and_horizon_and_bad_bounds_are_400()
    {
        await plane.WaitServingAsync();
        using var silo = new HttpClient { BaseAddress = new Uri(await plane.SiloUrlAsync()) };
        JsonElement trends = default;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            trends = await GetAsync(silo, "/api/trends?window_seconds=60&horizon_seconds=120");
            return trends.GetProperty("fleet").ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(30)), "no fleet trend after 30 s");
        Assert.Equal((60, 120), (trends.GetProperty("window_seconds").GetInt32(), trends.GetProperty("horizon_seconds").GetInt32()));
        JsonElement fleet = trends.GetProperty("fleet");
        Assert.Equal("fleet", fleet.GetProperty("series").GetString());
        Assert.InRange(fleet.GetProperty("points").GetInt32(), 2, 60);
        Assert.InRange(fleet.GetProperty("r_squared").GetDouble(), 0, 1);
        Assert.True(fleet.GetProperty("forecast").GetDouble() >= 0);

        using HttpResponseMessage bad = await silo.GetAsync(new Uri("/api/trends?window_seconds=5", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        using JsonDocument error = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
        Assert.Equal("window_seconds is \"5\"; it must be a whole number from 10 to 600.", error.RootElement.GetProperty("error").GetString());
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path)
    {
        using HttpResponseMessage response = await http.GetAsync(new Uri(path, UriKind.Relative));
        response.EnsureSuccessStatusCode();
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }
}
