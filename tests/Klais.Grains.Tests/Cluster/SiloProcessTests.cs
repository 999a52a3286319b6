using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Grains.Tests.Runtime;

namespace Klais.Grains.Tests.Cluster;

/// <summary>klais-silo as a process: exit code 2 on bad settings; the API's 503 while no silo serves a partition, 400s, block round trip.</summary>
public sealed class SiloProcessTests
{
    [Fact]
    public async Task Bad_settings_exit_2_naming_every_one()
    {
        using var silo = new SiloProcess("ok-id", new Dictionary<string, string>
        {
            ["KLAIS_CONSENSUS_QUORUM"] = "0",
            ["KLAIS_BLOCK_TTL_SECONDS"] = "-1",
            ["KLAIS_SILO_API_BIND"] = "here",
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await silo.Process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, silo.Process.ExitCode);
        Assert.Contains("klais-silo: 3 configuration problem(s):", silo.Output, StringComparison.Ordinal);
        Assert.Contains("KLAIS_CONSENSUS_QUORUM is \"0\" (from the environment)", silo.Output, StringComparison.Ordinal);
        Assert.Contains("KLAIS_BLOCK_TTL_SECONDS is \"-1\" (from the environment)", silo.Output, StringComparison.Ordinal);
        Assert.Contains("KLAIS_SILO_API_BIND is \"here\" (from the environment)", silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_503_with_retry_after_until_it_serves_then_blocks_and_unblocks_and_rejects_bad_bodies()
    {
        using var silo = new SiloProcess("solo", new Dictionary<string, string>
        {
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0", // no bootstrap: the silo's embedded dev cluster
            ["KLAIS_SILO_SESSION_TIMEOUT_MS"] = "3000",
            ["KLAIS_SILO_HEARTBEAT_MS"] = "500",
            ["KLAIS_LOG_LEVEL"] = "warn",
        });
        await silo.WaitListening(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        // The first join takes seconds on the mock: meanwhile nobody serves any partition.
        using (HttpResponseMessage early = await http.GetAsync(silo.Url + "/api/devices/d1"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
            Assert.Equal("1", early.Headers.GetValues("Retry-After").Single());
            Assert.Contains("is moving between silos", await early.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.True(await ControlPlaneCluster.WaitFor(() => Status(http, silo.Url + "/api/devices/d1") == HttpStatusCode.NotFound, TimeSpan.FromSeconds(30)));

        using (HttpResponseMessage bad = await http.PostAsync(silo.Url + "/api/devices/d1/block", Json("{\"ttl_seconds\": -5, \"reason\": \"x\"}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("{\"error\":\"ttl_seconds is -5; it must be a whole number from 1 to 604800.\"}", await bad.Content.ReadAsStringAsync());
        }

        using (HttpResponseMessage blocked = await http.PostAsync(silo.Url + "/api/devices/d1/block", Json("{\"ttl_seconds\": 120, \"reason\": \"lab\"}")))
        {
            Assert.Equal(HttpStatusCode.OK, blocked.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await blocked.Content.ReadAsStringAsync());
            Assert.True(doc.RootElement.GetProperty("blocked").GetBoolean());
            Assert.Equal("operator", doc.RootElement.GetProperty("block").GetProperty("origin").GetString());
            Assert.Equal("solo", doc.RootElement.GetProperty("owner_silo").GetString());
        }

        using (HttpResponseMessage anomalies = await http.GetAsync(silo.Url + "/api/anomalies"))
        {
            using JsonDocument doc = JsonDocument.Parse(await anomalies.Content.ReadAsStringAsync());
            Assert.Equal("d1", doc.RootElement.GetProperty("items").EnumerateArray().Single().GetProperty("device_id").GetString());
        }

        using (HttpResponseMessage unblocked = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, silo.Url + "/api/devices/d1/block")))
        {
            using JsonDocument doc = JsonDocument.Parse(await unblocked.Content.ReadAsStringAsync());
            Assert.False(doc.RootElement.GetProperty("blocked").GetBoolean());
        }

        Assert.Equal(HttpStatusCode.BadRequest, Status(http, silo.Url + "/api/devices/" + new string('x', 200)));
        using JsonDocument events = JsonDocument.Parse(await http.GetStringAsync(silo.Url + "/api/events"));
        Assert.Equal(["unblock", "block"], events.RootElement.GetProperty("items").EnumerateArray()
            .Select(e => e.GetProperty("kind").GetString()!).Where(k => k is "block" or "unblock").ToArray());
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static HttpStatusCode Status(HttpClient http, string url)
    {
        try
        {
            using HttpResponseMessage r = http.GetAsync(url).GetAwaiter().GetResult();
            return r.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }
}
