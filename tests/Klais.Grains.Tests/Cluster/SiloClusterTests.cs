using System.Diagnostics;
using Klais.Testing;
using Xunit.Abstractions;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// Failure detection with real processes: three klais-silo on one redis-server, two klais-edge, the Kafka dev
/// cluster. A silo killed with SIGKILL, or frozen with SIGSTOP (its sockets stay open): every device answers from a
/// survivor with its exact counters within the bound, no counter ever reads more than what was sent (one activation
/// per device at a time), and what the edges sent after the failure is ingested in full by the survivors.
/// </summary>
[Collection(SiloClusterGroup.Name)]
public sealed class SiloClusterTests(ITestOutputHelper output)
{
    [Fact]
    public Task Kill_9_of_a_silo_every_device_answers_from_a_survivor_with_exact_counters_within_10_s() =>
        FailOver("KILL", TimeSpan.FromSeconds(10));

    [Fact]
    public Task Sigstop_of_a_silo_every_device_answers_from_a_survivor_with_exact_counters_within_15_s() =>
        FailOver("STOP", TimeSpan.FromSeconds(15));

    private async Task FailOver(string signal, TimeSpan bound)
    {
        await using FleetUnderTest fleet = await FleetUnderTest.StartAsync();
        Assert.True(await Eventually.TrueAsync(() => fleet.FormedAsync(fleet.Silos), TimeSpan.FromSeconds(60)), "the cluster never formed:\n" + fleet.Describe());

        // Two rounds through the edges; any silo answers for any device with the same owner and the same counters.
        fleet.SendRound();
        fleet.SendRound();
        Dictionary<string, string> owners = [];
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            foreach (string device in fleet.Devices)
            {
                if (await fleet.DeviceAsync(fleet.Silos[0], device) is not { } seen || seen.Packets != fleet.Expected)
                {
                    return false;
                }

                owners[device] = seen.Owner;
            }

            return true;
        }, TimeSpan.FromSeconds(30)), "the edges' reports were not all ingested: " + await fleet.StateAsync(fleet.Silos[0]) + "\n" + fleet.Describe());
        foreach (string device in fleet.Devices.Take(10))
        {
            foreach (SiloProcess asked in fleet.Silos)
            {
                Assert.Equal((fleet.Expected, owners[device]), await fleet.DeviceAsync(asked, device));
            }
        }

        output.WriteLine("device grains per silo: " + string.Join(", ", owners.Values.GroupBy(o => o).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Count()}")));
        Assert.Equal(["s1", "s2", "s3"], owners.Values.Distinct().Order());

        // The silo hosting the most devices fails.
        SiloProcess victim = fleet.Silos.Single(s => s.Id == owners.Values.GroupBy(o => o).MaxBy(g => g.Count())!.Key);
        SiloProcess[] survivors = [.. fleet.Silos.Where(s => s != victim)];
        int victimDevices = owners.Count(o => o.Value == victim.Id);
        var sinceFailure = Stopwatch.StartNew();
        if (signal == "KILL")
        {
            victim.Kill9();
        }
        else
        {
            victim.Signal("STOP");
        }

        // Every device, the failed silo's among them, answers from a survivor with exact counters; none ever reads more.
        ulong highest = 0;
        var pending = new HashSet<string>(fleet.Devices);
        while (pending.Count > 0 && sinceFailure.Elapsed < bound + TimeSpan.FromSeconds(20))
        {
            foreach (string device in pending.ToList())
            {
                if (await fleet.DeviceAsync(survivors[pending.Count % 2], device) is { } seen)
                {
                    highest = Math.Max(highest, seen.Packets);
                    if (seen.Packets == fleet.Expected && seen.Owner != victim.Id)
                    {
                        pending.Remove(device);
                    }
                }
            }
        }

        TimeSpan failover = sinceFailure.Elapsed;
        output.WriteLine($"{signal}: all {fleet.Devices.Count} devices ({victimDevices} hosted by the failed silo {victim.Id}) served by survivors with exact counters after {failover.TotalSeconds:0.0} s");
        Assert.True(pending.Count == 0, $"not served by a survivor: {string.Join(", ", pending)}\n{fleet.Describe()}");
        Assert.True(highest <= fleet.Expected, $"a counter read {highest}, more than the {fleet.Expected} sent: two activations counted");
        Assert.True(failover <= bound, $"{signal}: served after {failover.TotalSeconds:0.0} s, bound {bound.TotalSeconds} s");

        // What the edges send now reaches the survivors in full once Kafka has moved the failed silo's partitions.
        var sinceRound = Stopwatch.StartNew();
        fleet.SendRound();
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            foreach (string device in fleet.Devices)
            {
                if (await fleet.DeviceAsync(survivors[0], device) is not { } seen || seen.Packets != fleet.Expected)
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromSeconds(60)), "a round sent after the failure was not ingested in full: " + await fleet.StateAsync(survivors[0]) + "\n" + fleet.Describe());
        output.WriteLine($"{signal}: a round sent {failover.TotalSeconds:0.0} s after the failure was ingested in full after {sinceRound.Elapsed.TotalSeconds:0.0} s");
        foreach (string device in fleet.Devices)
        {
            Assert.Equal(fleet.Expected, (await fleet.DeviceAsync(survivors[1], device))!.Value.Packets);
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloClusterGroup
{
    public const string Name = "silo processes";
}
