using System.Net;
using System.Text.Json;
using Klais.Edge.Tests.EndToEnd;
using Klais.Kafka;
using Klais.Testing;

namespace Klais.Edge.Tests.Api;

/// <summary>
/// Roles on every route of the edge API with <c>KLAIS_API_TOKENS_FILE</c>: 401 without a (known) token, 403 with a
/// role too low, 2xx with the right one; <c>/health</c> open to all.
/// </summary>
public sealed class ApiRoleTests : IDisposable
{
    private const string Reader = "reader-token-0123456789";
    private const string Operator = "operator-token-0123456789";
    private const string Admin = "admin-token-0123456789";

    private readonly KafkaDevCluster _cluster;
    private readonly string _tokens = Path.GetTempFileName();

    public ApiRoleTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
        File.WriteAllLines(_tokens, ["# test tokens", $"{Reader} read", $"{Operator} operate", $"{Admin} admin"]);
    }

    public void Dispose()
    {
        _cluster.Dispose();
        File.Delete(_tokens);
    }

    /// <summary>Every route, the role it needs, and a request that succeeds with it (run in this order).</summary>
    public static TheoryData<string, string, string?, string> Routes() => new()
    {
        { "GET", "/stats", null, "read" },
        { "GET", "/metrics", null, "read" },
        { "GET", "/blocklist", null, "read" },
        { "GET", "/limits", null, "read" },
        { "POST", "/config", """{"new_rate": 5000}""", "operate" },
        { "POST", "/blocklist", """{"device_id": "dev-a", "ttl_seconds": 60, "reason": "role test"}""", "operate" },
        { "DELETE", "/blocklist/dev-a", null, "operate" },
        { "PUT", "/limits/dev-b", """{"rate": 1, "burst": 5}""", "operate" },
        { "DELETE", "/limits/dev-b", null, "operate" },
    };

    [Fact]
    public async Task Every_route_answers_401_without_a_token_403_with_a_role_too_low_and_succeeds_with_its_role()
    {
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "roles", ("KLAIS_API_TOKENS_FILE", _tokens)));
        foreach (object?[] route in Routes())
        {
            (string method, string path, string? body, string role) = ((string)route[0]!, (string)route[1]!, (string?)route[2], (string)route[3]!);
            string what = $"{method} {path}";

            using HttpResponseMessage anonymous = await ApiCalls.SendAsync(edge.Http, method, path, body, token: null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{what} without a token: {(int)anonymous.StatusCode}");
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("Authorization: Bearer <token>", await ApiCalls.ErrorAsync(anonymous), StringComparison.Ordinal);

            using HttpResponseMessage unknown = await ApiCalls.SendAsync(edge.Http, method, path, body, token: "stranger-token-0123456789");
            Assert.True(unknown.StatusCode == HttpStatusCode.Unauthorized, $"{what} with an unknown token: {(int)unknown.StatusCode}");

            if (role == "operate")
            {
                using HttpResponseMessage low = await ApiCalls.SendAsync(edge.Http, method, path, body, Reader);
                Assert.True(low.StatusCode == HttpStatusCode.Forbidden, $"{what} with read: {(int)low.StatusCode}");
                Assert.Equal("This endpoint needs the role operate; the token has read.", await ApiCalls.ErrorAsync(low));
            }

            using HttpResponseMessage allowed = await ApiCalls.SendAsync(edge.Http, method, path, body, role == "read" ? Reader : Operator);
            Assert.True(allowed.IsSuccessStatusCode, $"{what} with {role}: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
            using HttpResponseMessage byAdmin = await ApiCalls.SendAsync(edge.Http, "GET", "/stats", null, Admin);
            Assert.Equal(HttpStatusCode.OK, byAdmin.StatusCode);
        }

        // /health counts what was refused: two 401s per route, a 403 per operate route.
        JsonElement access = (await edge.GetJsonAsync("/health")).GetProperty("api_access");
        Assert.Equal("tokens", access.GetProperty("mode").GetString());
        Assert.Equal(Routes().Count * 2, access.GetProperty("unauthorized").GetInt64());
        Assert.Equal(Routes().Count(r => (string)r[3]! == "operate"), access.GetProperty("forbidden").GetInt64());

        // What the allowed requests did, and nothing the refused ones would have: the rate of the one allowed POST /config.
        Assert.Equal(5000, edge.Node.Dam.CurrentRate);
        Assert.Empty(edge.Node.Devices.ListBlocked());
        Assert.Empty(edge.Node.Devices.ListLimits());
    }

    [Fact]
    public async Task Health_stays_open_and_says_the_api_needs_tokens_while_an_open_api_warns()
    {
        await using EdgeHarness closed = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "roles-h", ("KLAIS_API_TOKENS_FILE", _tokens)));
        using HttpResponseMessage health = await ApiCalls.SendAsync(closed.Http, "GET", "/health", null, token: null);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Assert.DoesNotContain(doc.RootElement.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("KLAIS_API_TOKENS_FILE", StringComparison.Ordinal));

        await using EdgeHarness open = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "roles-o"));
        JsonElement openHealth = await open.GetJsonAsync("/health");
        Assert.Contains(openHealth.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.StartsWith("KLAIS_API_TOKENS_FILE is not set", StringComparison.Ordinal));
        using HttpResponseMessage anyone = await ApiCalls.SendAsync(open.Http, "POST", "/config", """{"new_rate": 7000}""", token: null);
        Assert.Equal(HttpStatusCode.OK, anyone.StatusCode);
    }
}
