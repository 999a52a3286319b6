using System.Diagnostics;
using System.Text.Json;
using Klais.Testing;
using Xunit.Abstractions;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// Redis away for 20 s under two running silos and two edges: the silos keep ingesting and answering from the
/// activations they hold, say in /health that state writes fail, hold back their Kafka offsets, and once Redis is
/// back write everything; a silo killed afterwards shows the survivor reading exact counters from Redis.
/// </summary>
[Collection(SiloClusterGroup.Name)]
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Silos_keep_ingesting_and_answering_through_a_20_s_redis_outage_and_lose_nothing()
    {
        await using FleetUnderTest fleet = await FleetUnderTest.StartAsync(silos: 2);
        Assert.True(await Eventually.TrueAsync(() => fleet.FormedAsync(fleet.Silos), TimeSpan.FromSeconds(60)), "the cluster never formed:\n" + fleet.Describe());
        fleet.SendRound();
        Assert.True(await AllAt(fleet, fleet.Silos[0], TimeSpan.FromSeconds(30)), "round 1 not ingested:\n" + fleet.Describe());

        // Redis goes away (SIGTERM: a clean stop, its append-only file complete).
        var outage = Stopwatch.StartNew();
        fleet.Redis.Terminate();
        fleet.SendRound();

        // Ingesting and answering: the counters move on in the activations; /health says writes fail.
        Assert.True(await AllAt(fleet, fleet.Silos[1], TimeSpan.FromSeconds(15)), "round 2 not ingested while Redis was away:\n" + fleet.Describe());
        Assert.True(await Eventually.TrueAsync(async () => (await Health(fleet, fleet.Silos[0])).GetProperty("state_writes").GetProperty("status").GetString() == "failing",
            TimeSpan.FromSeconds(10)), "/health did not say state writes fail");
        JsonElement during = await Health(fleet, fleet.Silos[0]);
        output.WriteLine($"during the outage ({outage.Elapsed.TotalSeconds:0.0} s): status {during.GetProperty("status")}, state_writes {during.GetProperty("state_writes")}, uncommitted batches {during.GetProperty("ingestion").GetProperty("uncommitted_batches")}");
        Assert.Equal("degraded", during.GetProperty("status").GetString());

        fleet.SendRound();
        Assert.True(await AllAt(fleet, fleet.Silos[0], TimeSpan.FromSeconds(15)), "round 3 not ingested while Redis was away: " + await fleet.StateAsync(fleet.Silos[0]));
        await Task.Delay(TimeSpan.FromSeconds(20) - outage.Elapsed is { Ticks: > 0 } left ? left : TimeSpan.Zero);
        fleet.Redis.Start();
        output.WriteLine($"Redis back after {outage.Elapsed.TotalSeconds:0.0} s");

        // Back: every pending write lands, every held-back offset is committed.
        var recovery = Stopwatch.StartNew();
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            foreach (SiloProcess silo in fleet.Silos)
            {
                JsonElement health = await Health(fleet, silo);
                if (health.GetProperty("state_writes").GetProperty("status").GetString() != "ok"
                    || health.GetProperty("ingestion").GetProperty("uncommitted_batches").GetInt32() != 0)
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromSeconds(60)), "the silos did not recover: " + await fleet.StateAsync(fleet.Silos[0]) + "\n" + fleet.Describe());
        output.WriteLine($"recovered (writes ok, offsets committed) {recovery.Elapsed.TotalSeconds:0.0} s after Redis came back");

        // Nothing lost: kill -9 a silo; the survivor activates its devices from Redis with exact counters.
        fleet.SendRound();
        Assert.True(await AllAt(fleet, fleet.Silos[0], TimeSpan.FromSeconds(30)), "round 4 not ingested");
        Assert.True(await Eventually.TrueAsync(async () => (await Health(fleet, fleet.Silos[0])).GetProperty("ingestion").GetProperty("uncommitted_batches").GetInt32() == 0
            && (await Health(fleet, fleet.Silos[1])).GetProperty("ingestion").GetProperty("uncommitted_batches").GetInt32() == 0, TimeSpan.FromSeconds(20)));
        fleet.Silos[1].Kill9();
        Assert.True(await AllAt(fleet, fleet.Silos[0], TimeSpan.FromSeconds(30), notOwnedBy: fleet.Silos[1].Id),
            "after the outage and a kill -9 the survivor did not read exact counters from Redis:\n" + fleet.Describe());
    }

    private static async Task<JsonElement> Health(FleetUnderTest fleet, SiloProcess silo)
    {
        using JsonDocument doc = JsonDocument.Parse(await fleet.Http.GetStringAsync(silo.Url + "/health"));
        return doc.RootElement.Clone();
    }

    private static Task<bool> AllAt(FleetUnderTest fleet, SiloProcess asked, TimeSpan limit, string? notOwnedBy = null) => Eventually.TrueAsync(async () =>
    {
        foreach (string device in fleet.Devices)
        {
            if (await fleet.DeviceAsync(asked, device) is not { } seen || seen.Packets != fleet.Expected || seen.Owner == notOwnedBy)
            {
                return false;
            }
        }

        return true;
    }, limit);
}
