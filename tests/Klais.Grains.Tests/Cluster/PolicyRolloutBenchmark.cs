using System.Globalization;
using System.Text.Json;
using Klais.Edge.Tests.EndToEnd;
using Xunit.Abstractions;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// Seconds from a rollout stage's decision (its "started" entry in the grain's history) to the moment every edge the
/// stage targets has the policy in force (each edge's <c>/stats</c> <c>control.policy.applied_unix_ms</c>; one host,
/// one clock). The fleet of <see cref="PolicyRolloutProcessTests"/> (three silos, three edges under load), rollouts of stages ["canary", 100] with no bake, one after the
/// other. It checks that every rollout completed on every edge; the seconds are printed, not asserted
/// (docs/BENCHMARKS.md keeps them with the command).
/// </summary>
[Collection(SiloClusterGroup.Name)]
[Trait("Category", "Benchmark")]
public sealed class PolicyRolloutBenchmark(ITestOutputHelper output)
{
    [Fact]
    public async Task Seconds_from_a_stage_decision_to_every_targeted_edge_applying_it()
    {
        int rollouts = int.TryParse(Environment.GetEnvironmentVariable("KLAIS_BENCH_POLICY_ROLLOUTS"), CultureInfo.InvariantCulture, out int n) ? n : 5;
        await using FleetUnderTest fleet = await PolicyRolloutProcessTests.StartFleetAsync();
        SiloProcess api = fleet.Silos[0];

        var canary = new List<double>();
        var rest = new List<double>();
        var grainSeen = new List<double>();
        for (int i = 0; i < rollouts; i++)
        {
            long version = await PolicyRolloutProcessTests.CreateAsync(fleet, api, $$"""{"settings": {"dam_max_rate": {{20000 + i}}}, "description": "bench {{i}}"}""");
            Assert.Equal(200, (await fleet.CallAsync(api, HttpMethod.Post, $"/api/policies/{version}/rollout", """{"stages": ["canary", 100], "bake_seconds": 0}""")).Status);
            JsonElement policy = await PolicyRolloutProcessTests.PolicyWhenAsync(fleet, api, version, p => p.GetProperty("state").GetString() == "complete");

            var started = policy.GetProperty("history").EnumerateArray().Where(h => h.GetProperty("outcome").GetString() == "started")
                .Select(h => h.GetProperty("at").GetDateTimeOffset()).ToList();
            var applied = policy.GetProperty("history").EnumerateArray().Where(h => h.GetProperty("outcome").GetString() == "applied")
                .Select(h => h.GetProperty("at").GetDateTimeOffset()).ToList();
            var appliedAt = new List<DateTimeOffset>();
            foreach (EdgeProcess edge in fleet.Edges)
            {
                JsonElement inForce = (await edge.GetJsonAsync("/stats")).GetProperty("control").GetProperty("policy");
                Assert.Equal(version, inForce.GetProperty("version").GetInt64());
                appliedAt.Add(DateTimeOffset.FromUnixTimeMilliseconds(inForce.GetProperty("applied_unix_ms").GetInt64()));
            }

            canary.Add((appliedAt[0] - started[0]).TotalSeconds);
            rest.Add((appliedAt.Skip(1).Max() - started[1]).TotalSeconds);
            grainSeen.AddRange(started.Zip(applied, (s, a) => (a - s).TotalSeconds));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"version {version}: canary {canary[^1]:0.000} s, the other two {rest[^1]:0.000} s; the grain saw the acks after {string.Join(" and ", started.Zip(applied, (s, a) => $"{(a - s).TotalSeconds:0.0} s"))}"));
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"decision -> every targeted edge applying it, over {rollouts} rollouts: canary stage median {Median(canary):0.000} s (max {canary.Max():0.000}), 100% stage median {Median(rest):0.000} s (max {rest.Max():0.000}); the grain's own view (acks in node reports, 200 ms report interval, 1 s tick) median {Median(grainSeen):0.0} s (max {grainSeen.Max():0.0})"));
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
