using System.Text.Json;

namespace Klais.Grains.Tests.Silo;

public sealed class OpenApiTests
{
    [Fact]
    public void The_description_covers_every_route_of_the_grain_api()
    {
        using Stream stream = typeof(Klais.Silo.Api.GrainApi).Assembly.GetManifestResourceStream("openapi.json")!;
        using JsonDocument doc = JsonDocument.Parse(stream);
        var paths = doc.RootElement.GetProperty("paths").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateObject().Select(m => m.Name).ToHashSet());

        Assert.Equal("3.0.3", doc.RootElement.GetProperty("openapi").GetString());
        Assert.Equal(["get"], paths["/api/silos"]);
        Assert.Equal(["get"], paths["/api/devices/{id}"]);
        Assert.Equal(["post", "delete"], paths["/api/devices/{id}/block"]);
        Assert.Equal(["get"], paths["/api/nodes"]);
        Assert.Equal(["get"], paths["/api/nodes/{id}"]);
        Assert.Equal(["get"], paths["/api/swarm"]);
        Assert.Equal(["get"], paths["/api/anomalies"]);
        Assert.Equal(["get"], paths["/api/events"]);
        Assert.Equal(["get"], paths["/api/history"]);
        Assert.Equal(["get"], paths["/api/top-talkers"]);
        Assert.Equal(["get"], paths["/api/trends"]);
        Assert.Equal(["get", "post"], paths["/api/policies"]);
        Assert.Equal(["get"], paths["/api/policies/{version}"]);
        foreach (string action in new[] { "rollout", "pause", "resume", "abort" })
        {
            Assert.Equal(["post"], paths[$"/api/policies/{{version}}/{action}"]);
        }
    }

    [Fact]
    public void The_policy_request_describes_every_policy_setting_with_the_bounds_the_silo_and_the_edges_enforce()
    {
        using Stream stream = typeof(Klais.Silo.Api.GrainApi).Assembly.GetManifestResourceStream("openapi.json")!;
        using JsonDocument doc = JsonDocument.Parse(stream);
        JsonElement settings = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("PolicyRequest")
            .GetProperty("properties").GetProperty("settings").GetProperty("properties");
        Assert.Equal(Klais.Contracts.Configuration.PolicySettings.Names.Order(StringComparer.Ordinal), settings.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (Klais.Contracts.Configuration.PolicySetting s in Klais.Contracts.Configuration.PolicySettings.All.Concat(Klais.Contracts.Configuration.PolicySettings.Fleet))
        {
            JsonElement p = settings.GetProperty(s.Name);
            Assert.Equal(s.Whole ? "integer" : "number", p.GetProperty("type").GetString());
            Assert.Equal(s.Min, p.GetProperty(s.Whole ? "minimum" : "exclusiveMinimum").GetDouble());
            Assert.Equal(s.Max, p.GetProperty("maximum").GetDouble());
        }

        Assert.Matches(settings.GetProperty("burst_model_version").GetProperty("pattern").GetString()!, "sha256:7fe965235f29");
    }

    [Fact]
    public void Swarm_and_health_describe_the_burst_model_in_force()
    {
        using Stream stream = typeof(Klais.Silo.Api.GrainApi).Assembly.GetManifestResourceStream("openapi.json")!;
        using JsonDocument doc = JsonDocument.Parse(stream);
        JsonElement schemas = doc.RootElement.GetProperty("components").GetProperty("schemas");
        JsonElement model = schemas.GetProperty("BurstModel").GetProperty("properties");
        Assert.Equal(["onnx", "heuristic"], model.GetProperty("kind").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.True(model.GetProperty("error").GetProperty("nullable").GetBoolean());
        Assert.Equal("#/components/schemas/BurstModel",
            schemas.GetProperty("Swarm").GetProperty("properties").GetProperty("model").GetProperty("allOf")[0].GetProperty("$ref").GetString());
        Assert.Equal("#/components/schemas/BurstModel", schemas.GetProperty("Health").GetProperty("properties").GetProperty("model").GetProperty("$ref").GetString());
        Assert.Equal("#/components/schemas/Swarm", doc.RootElement.GetProperty("paths").GetProperty("/api/swarm").GetProperty("get")
            .GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
    }

    [Theory]
    [InlineData("", 300, 300, null)]
    [InlineData("?window_seconds=60&horizon_seconds=0", 60, 0, null)]
    [InlineData("?window_seconds=5", 0, 0, "window_seconds is \"5\"; it must be a whole number from 10 to 600.")]
    [InlineData("?horizon_seconds=-1", 0, 0, "horizon_seconds is \"-1\"; it must be a whole number from 0 to 86400.")]
    [InlineData("?horizon_seconds=1e3", 0, 0, "horizon_seconds is \"1e3\"; it must be a whole number from 0 to 86400.")]
    public void Trends_query_takes_a_window_and_a_horizon_in_bounds(string query, int window, int horizon, string? error)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.QueryString = new Microsoft.AspNetCore.Http.QueryString(query.Length == 0 ? null : query);
        (int? w, string? we) = Klais.Silo.Api.GrainApi.QueryInt(context, "window_seconds", 300, 10, 600);
        (int? h, string? he) = Klais.Silo.Api.GrainApi.QueryInt(context, "horizon_seconds", 300, 0, 86_400);
        Assert.Equal(error, we ?? he);
        if (error is null)
        {
            Assert.Equal((window, horizon), (w, h));
        }
    }
}
