using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Klais.Kafka;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>Blocklist and per-device limits through the HTTP API, enforced in user space (no XDP), checked in Kafka.</summary>
public sealed class DeviceApiTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;

    public DeviceApiTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose() => _cluster.Dispose();

    private static byte[] Datagram(string device, uint sequence)
    {
        byte[] buffer = new byte[Contracts.Wire.Datagram.HeaderLength + 2];
        Contracts.Wire.Datagram.Write(buffer, Encoding.UTF8.GetBytes(device), sequence, "{}"u8);
        return buffer;
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = json is null ? null : Body(json) };
        using HttpResponseMessage response = await http.SendAsync(request);
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone());
    }

    private static int CountFor(IReadOnlyList<TopicRecord> records, string device) =>
        records.Count(r => Encoding.UTF8.GetString(r.Key!) == device);

    [Fact]
    public async Task A_blocked_device_never_reaches_kafka_until_unblocked_and_is_counted_as_blocked()
    {
        _cluster.CreateTopic("blocks", 2);
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "blocks"));

        (HttpStatusCode status, JsonElement created) = await SendAsync(edge.Http, HttpMethod.Post, "/blocklist",
            """{"device_id": "dev-a", "ttl_seconds": 600, "reason": "flooding"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("dev-a", created.GetProperty("device_id").GetString());
        Assert.Equal("operator", created.GetProperty("source").GetString());
        Assert.InRange(created.GetProperty("ttl_seconds_left").GetDouble(), 599, 600);

        for (uint s = 1; s <= 50; s++)
        {
            edge.Send(Datagram("dev-a", s));
            edge.Send(Datagram("dev-b", s));
        }

        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Producer.Delivered >= 50 && edge.Node.Pipeline.Rejections[Contracts.Wire.Rejection.Blocked] >= 50, TimeSpan.FromSeconds(20)));
        JsonElement stats = await edge.GetJsonAsync("/stats");
        Assert.Equal(50, stats.GetProperty("rejected").GetProperty("blocked").GetInt64());
        (_, JsonElement list) = await SendAsync(edge.Http, HttpMethod.Get, "/blocklist");
        Assert.Equal("user_space", list.GetProperty("enforced_in").GetString());
        Assert.Equal(["dev-a"], list.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("device_id").GetString()));

        (status, _) = await SendAsync(edge.Http, HttpMethod.Delete, "/blocklist/dev-a");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, JsonElement again) = await SendAsync(edge.Http, HttpMethod.Delete, "/blocklist/dev-a");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("not blocked", again.GetProperty("error").GetString(), StringComparison.Ordinal);

        for (uint s = 51; s <= 60; s++)
        {
            edge.Send(Datagram("dev-a", s));
        }

        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Producer.Delivered >= 60, TimeSpan.FromSeconds(20)));
        IReadOnlyList<TopicRecord> records = TopicReader.ReadToEnd(_cluster.BootstrapServers, "blocks", TimeSpan.FromSeconds(20));
        Assert.Equal(50, CountFor(records, "dev-b"));
        Assert.Equal(10, CountFor(records, "dev-a"));
    }

    [Fact]
    public async Task A_device_limit_lets_its_burst_through_and_counts_the_rest_as_device_rate_limited()
    {
        _cluster.CreateTopic("limits", 2);
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "limits"));

        (HttpStatusCode status, JsonElement set) = await SendAsync(edge.Http, HttpMethod.Put, "/limits/dev-c", """{"rate": 1, "burst": 5}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, set.GetProperty("burst").GetInt64());

        for (uint s = 1; s <= 20; s++)
        {
            edge.Send(Datagram("dev-c", s));
        }

        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Pipeline.Rejections[Contracts.Wire.Rejection.DeviceRateLimited] >= 15, TimeSpan.FromSeconds(20)));
        Assert.True(await EdgeHarness.WaitForAsync(() => edge.Node.Producer.Delivered >= 5, TimeSpan.FromSeconds(20)));
        JsonElement stats = await edge.GetJsonAsync("/stats");
        Assert.Equal(15, stats.GetProperty("rejected").GetProperty("device_rate_limited").GetInt64());
        Assert.Equal(5, CountFor(TopicReader.ReadToEnd(_cluster.BootstrapServers, "limits", TimeSpan.FromSeconds(20)), "dev-c"));

        (_, JsonElement limits) = await SendAsync(edge.Http, HttpMethod.Get, "/limits");
        Assert.Equal(1, limits.GetProperty("count").GetInt32());
        (status, _) = await SendAsync(edge.Http, HttpMethod.Delete, "/limits/dev-c");
        Assert.Equal(HttpStatusCode.OK, status);
        (_, limits) = await SendAsync(edge.Http, HttpMethod.Get, "/limits");
        Assert.Equal(0, limits.GetProperty("count").GetInt32());
    }

    [Theory]
    [InlineData("POST", "/blocklist", """{"device_id": "", "ttl_seconds": -1, "color": "red"}""",
        new[] { "1 to 16 bytes", "ttl_seconds is -1", "\"color\" is not a field here", "reason is missing" })]
    [InlineData("POST", "/blocklist", "[1]", new[] { "must be a JSON object" })]
    [InlineData("POST", "/blocklist", "{", new[] { "not valid JSON" })]
    [InlineData("PUT", "/limits/dev-x", "{}", new[] { "rate is missing", "burst is missing" })]
    [InlineData("PUT", "/limits/dev-x", """{"rate": "fast", "burst": 0}""", new[] { "rate is \"fast\"", "burst is 0" })]
    [InlineData("PUT", "/limits/dev-x", """{"rate": 0.5, "burst": 2}""", new[] { "rate is 0.5. It must be a whole number" })]
    [InlineData("PUT", "/limits/this-id-is-far-too-long", """{"rate": 1, "burst": 1}""", new[] { "1 to 16 bytes" })]
    [InlineData("DELETE", "/limits/dev-x", null, new[] { "has no limit of its own" })]
    public async Task Bad_requests_get_a_message_naming_every_problem_and_change_nothing(string method, string path, string? body, string[] problems)
    {
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "bad"));

        (HttpStatusCode status, JsonElement error) = await SendAsync(edge.Http, new HttpMethod(method), path, body);

        Assert.Equal(method == "DELETE" ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest, status);
        string message = error.GetProperty("error").GetString()!;
        Assert.All(problems, p => Assert.Contains(p, message, StringComparison.Ordinal));
        Assert.Empty(edge.Node.Devices.ListBlocked());
        Assert.Empty(edge.Node.Devices.ListLimits());
    }
}
