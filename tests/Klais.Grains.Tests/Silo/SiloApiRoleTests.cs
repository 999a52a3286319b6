using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Contracts.Security;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.Grains.Tests.Silo;

/// <summary>
/// Roles on every route of the silo (grain API, OpenAPI, the Orleans dashboard) with tokens configured: 401 without a
/// known token, 403 with a role too low, 2xx with the right one; <c>/health</c> open. One in-process silo.
/// </summary>
public sealed class SiloApiRoleTests
{
    private const string Reader = "reader-token-0123456789";
    private const string Operator = "operator-token-0123456789";
    private const string Admin = "admin-token-0123456789";

    /// <summary>Every route of the silo, the role it needs, and a request that succeeds with it (in this order).</summary>
    private static readonly (string Method, string Route, string Path, string? Body, ApiRole Role)[] Routes =
    [
        ("GET", "/openapi.json", "/openapi.json", null, ApiRole.Read),
        ("GET", "/api/silos", "/api/silos", null, ApiRole.Read),
        ("POST", "/api/devices/{id}/block", "/api/devices/dev-r/block", """{"ttl_seconds": 60, "reason": "role test"}""", ApiRole.Operate),
        ("GET", "/api/devices/{id}", "/api/devices/dev-r", null, ApiRole.Read),
        ("DELETE", "/api/devices/{id}/block", "/api/devices/dev-r/block", null, ApiRole.Operate),
        ("GET", "/api/nodes", "/api/nodes", null, ApiRole.Read),
        ("GET", "/api/nodes/{id}", "/api/nodes/edge-r", null, ApiRole.Read),
        ("GET", "/api/swarm", "/api/swarm", null, ApiRole.Read),
        ("GET", "/api/anomalies", "/api/anomalies", null, ApiRole.Read),
        ("GET", "/api/events", "/api/events", null, ApiRole.Read),
        ("GET", "/api/trends", "/api/trends", null, ApiRole.Read),
        ("GET", "/api/history", "/api/history", null, ApiRole.Read),
        ("GET", "/api/top-talkers", "/api/top-talkers", null, ApiRole.Read),
        ("POST", "/api/policies", "/api/policies", """{"settings": {"dam_max_rate": 2000}}""", ApiRole.Admin),
        ("GET", "/api/policies", "/api/policies", null, ApiRole.Read),
        ("GET", "/api/policies/{version}", "/api/policies/1", null, ApiRole.Read),
        ("POST", "/api/policies/{version}/rollout", "/api/policies/1/rollout", """{"stages": ["canary", 100]}""", ApiRole.Admin),
        ("POST", "/api/policies/{version}/pause", "/api/policies/1/pause", null, ApiRole.Admin),
        ("POST", "/api/policies/{version}/resume", "/api/policies/1/resume", null, ApiRole.Admin),
        ("POST", "/api/policies/{version}/abort", "/api/policies/1/abort", null, ApiRole.Admin),
        ("GET", "/dashboard/*", "/dashboard/", null, ApiRole.Read),
    ];

    /// <summary>Routes open without a token: <c>/health</c>, and the fleet dashboard's static files (no data; the page's calls need read).</summary>
    private static readonly (string Route, string Path)[] OpenRoutes = [("/health", "/health"), ("/", "/"), ("/ui/{file}", "/ui/dashboard.js")];

    [Fact]
    public async Task Every_route_answers_401_without_a_token_403_with_a_role_too_low_and_succeeds_with_its_role()
    {
        string tokens = Path.GetTempFileName();
        File.WriteAllLines(tokens, [$"{Reader} read", $"{Operator} operate", $"{Admin} admin"]);
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster, ("KLAIS_API_TOKENS_FILE", tokens));
        File.Delete(tokens);

        // Every endpoint the silo maps outside the dashboard is in the table above, so a new route cannot skip this test.
        var mapped = silo.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !e.RoutePattern.RawText!.StartsWith("/dashboard", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"))
            .Order().ToList();
        Assert.Equal(Routes.Where(r => !r.Route.StartsWith("/dashboard", StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Route}")
            .Concat(OpenRoutes.Select(r => $"GET {r.Route}")).Concat(["POST /api/session", "DELETE /api/session"]).Order(), mapped);

        // The OpenAPI description names the role each route needs, and the refusals it may answer.
        using (Stream stream = typeof(Klais.Silo.Api.GrainApi).Assembly.GetManifestResourceStream("openapi.json")!)
        using (JsonDocument description = JsonDocument.Parse(stream))
        {
            foreach ((string method, string route, _, _, ApiRole role) in Routes.Where(r => !r.Route.StartsWith("/dashboard", StringComparison.Ordinal)))
            {
                JsonElement operation = description.RootElement.GetProperty("paths").GetProperty(route).GetProperty(method.ToLowerInvariant());
                Assert.Equal(ApiTokens.Name(role), operation.GetProperty("x-klais-role").GetString());
                Assert.True(operation.GetProperty("responses").TryGetProperty("401", out _), $"{method} {route} documents no 401");
                Assert.Equal(role > ApiRole.Read, operation.GetProperty("responses").TryGetProperty("403", out _));
            }
        }

        // A node report for /api/nodes/{id}.
        using (var edge = new ReportPublisher(cluster.BootstrapServers, "edge-r"))
        {
            edge.PublishNode(new NodeReport { NodeId = "edge-r", ReceivedPerSecond = 10 });
            edge.Flush(TimeSpan.FromSeconds(10));
        }

        using var http = new HttpClient { BaseAddress = new Uri(silo.ApiUrl), Timeout = TimeSpan.FromSeconds(30) };
        Assert.True(await Eventually.TrueAsync(async () => (await ApiCalls.SendAsync(http, "GET", "/api/nodes/edge-r", null, Reader)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30)), "the node report was not ingested");
        foreach ((string method, _, string path, string? body, ApiRole role) in Routes)
        {
            string what = $"{method} {path}";
            using HttpResponseMessage anonymous = await ApiCalls.SendAsync(http, method, path, body, null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{what} without a token: {(int)anonymous.StatusCode}");
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("Authorization: Bearer <token>", await ApiCalls.ErrorAsync(anonymous), StringComparison.Ordinal);

            using HttpResponseMessage unknown = await ApiCalls.SendAsync(http, method, path, body, "stranger-token-0123456789");
            Assert.True(unknown.StatusCode == HttpStatusCode.Unauthorized, $"{what} with an unknown token: {(int)unknown.StatusCode}");

            if (role > ApiRole.Read)
            {
                using HttpResponseMessage low = await ApiCalls.SendAsync(http, method, path, body, Reader);
                Assert.True(low.StatusCode == HttpStatusCode.Forbidden, $"{what} with read: {(int)low.StatusCode}");
                Assert.Equal($"This endpoint needs the role {ApiTokens.Name(role)}; the token has read.", await ApiCalls.ErrorAsync(low));
            }

            using HttpResponseMessage allowed = await ApiCalls.SendAsync(http, method, path, body, role switch { ApiRole.Read => Reader, ApiRole.Operate => Operator, _ => Admin });
            Assert.True(allowed.IsSuccessStatusCode, $"{what} with {ApiTokens.Name(role)}: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
        }

        foreach ((_, string path) in OpenRoutes)
        {
            using HttpResponseMessage open = await ApiCalls.SendAsync(http, "GET", path, null, null);
            Assert.True(open.StatusCode == HttpStatusCode.OK, $"GET {path} without a token: {(int)open.StatusCode}");
        }

        // /health is open, says access needs tokens, and counts what was refused.
        using HttpResponseMessage health = await ApiCalls.SendAsync(http, "GET", "/health", null, null);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        JsonElement access = doc.RootElement.GetProperty("api_access");
        Assert.Equal("tokens", access.GetProperty("mode").GetString());
        Assert.Equal(Routes.Length * 2, access.GetProperty("unauthorized").GetInt64());
        Assert.Equal(Routes.Count(r => r.Role > ApiRole.Read), access.GetProperty("forbidden").GetInt64());
    }

    [Fact]
    public async Task A_session_cookie_from_a_known_token_opens_reads_to_a_browser_but_never_a_change()
    {
        string tokens = Path.GetTempFileName();
        File.WriteAllLines(tokens, [$"{Reader} read", $"{Operator} operate"]);
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster, ("KLAIS_API_TOKENS_FILE", tokens));
        File.Delete(tokens);
        var cookies = new System.Net.CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = new Uri(silo.ApiUrl), Timeout = TimeSpan.FromSeconds(30) };

        using HttpResponseMessage unknown = await browser.PostAsync(new Uri("/api/session", UriKind.Relative), new StringContent("""{"token": "stranger-token-0123456789"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Empty(cookies.GetAllCookies());
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/dashboard/", UriKind.Relative))).StatusCode);

        using HttpResponseMessage session = await browser.PostAsync(new Uri("/api/session", UriKind.Relative), new StringContent($$"""{"token": "{{Operator}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, session.StatusCode);
        string setCookie = session.Headers.GetValues("Set-Cookie").Single();
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);

        // Reads follow links with the cookie alone: the Orleans dashboard and the API.
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/dashboard/", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri("/api/anomalies", UriKind.Relative))).StatusCode);

        // A change never rides on the cookie, even an operator's: it needs the header.
        using HttpResponseMessage change = await browser.PostAsync(new Uri("/api/devices/dev-c/block", UriKind.Relative),
            new StringContent("""{"ttl_seconds": 60, "reason": "cookie"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, change.StatusCode);

        using HttpResponseMessage forget = await browser.DeleteAsync(new Uri("/api/session", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, forget.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri("/api/anomalies", UriKind.Relative))).StatusCode);
    }
}
