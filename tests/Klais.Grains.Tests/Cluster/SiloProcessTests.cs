using System.Net;
using System.Text;
using System.Text.Json;


namespace Klais.Grains.Tests.Cluster;

/// <summary>klais-silo as a process in development mode: exit code 2 on bad settings; the API's 404s and 400s, a block round trip, the dashboards.</summary>
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
    public async Task In_development_mode_says_so_answers_404_and_400_blocks_and_unblocks_and_serves_the_orleans_dashboard()
    {
        using var silo = new SiloProcess("solo", new Dictionary<string, string>
        {
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0", // no bootstrap: the silo's embedded dev cluster; no Redis: development mode
            ["KLAIS_SILO_PORT"] = "0",
            ["KLAIS_SILO_GATEWAY_PORT"] = "0",
            ["KLAIS_LOG_LEVEL"] = "warning",
        });
        await silo.WaitListening(TimeSpan.FromSeconds(60));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        Assert.Contains("development mode", silo.Output, StringComparison.Ordinal);
        using (JsonDocument health = JsonDocument.Parse(await http.GetStringAsync(silo.Url + "/health")))
        {
            Assert.Equal("development", health.RootElement.GetProperty("mode").GetString());
            Assert.Contains("nothing survives a restart", health.RootElement.GetProperty("warning").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, Status(http, silo.Url + "/api/devices/d1"));
        Assert.Equal(HttpStatusCode.OK, Status(http, silo.Url + "/dashboard/"));

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
