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
        Assert.Equal(["get", "post"], paths["/api/policies"]);
        Assert.Equal(["get"], paths["/api/policies/{version}"]);
        foreach (string action in new[] { "rollout", "pause", "resume", "abort" })
        {
            Assert.Equal(["post"], paths[$"/api/policies/{{version}}/{action}"]);
        }
    }
}
