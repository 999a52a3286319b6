using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Grains.Runtime;
using Klais.Grains.Tests.Runtime;
using Klais.Kafka;
using Xunit.Abstractions;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// Three klais-silo processes on one mock cluster: every silo owns partitions, any silo answers for any device,
/// kill -9 of one silo moves its devices to the survivors with state intact within 15 s, and the ownership
/// claims in klais.grain-state show no two owners of one partition at once.
/// </summary>
[Collection(SiloClusterRunsAlone.Name)]
public sealed class SiloClusterTests(ITestOutputHelper output)
{
    private const int Partitions = 6;
    private const int Devices = 30;
    private const ulong PacketsPerReport = 10;
    private static readonly TimeSpan FailoverBound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Three_silos_share_partitions_route_calls_and_survive_kill_9_of_one_with_state_intact()
    {
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, Partitions);
        var environment = new Dictionary<string, string>
        {
            ["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers,
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0",
            ["KLAIS_SILO_SESSION_TIMEOUT_MS"] = "3000",
            ["KLAIS_SILO_HEARTBEAT_MS"] = "500",
            ["KLAIS_SILO_ANNOUNCE_MS"] = "300",
            // Long enough that the victim surely holds handled-but-uncommitted records when it is killed.
            ["KLAIS_SILO_CHECKPOINT_MS"] = "3000",
            ["KLAIS_LOG_LEVEL"] = "warn",
        };
        var silos = new List<SiloProcess>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            foreach (string id in new[] { "s1", "s2", "s3" })
            {
                silos.Add(new SiloProcess(id, environment));
            }

            foreach (SiloProcess silo in silos)
            {
                await silo.WaitListening(TimeSpan.FromSeconds(60));
            }

            // 1. Every silo owns partitions; together exactly all of them, none twice.
            Dictionary<int, string>? owners = null;
            Assert.True(await ControlPlaneCluster.WaitFor(() => (owners = Ownership(http, silos[0].Url, 3)) is not null, TimeSpan.FromSeconds(60)),
                "three silos never shared the partitions:\n" + string.Join("\n", silos.Select(s => s.Output)));
            output.WriteLine("ownership: " + string.Join(", ", owners!.OrderBy(o => o.Key).Select(o => $"{o.Key}->{o.Value}")));
            Assert.Equal(["s1", "s2", "s3"], owners!.Values.Distinct().Order());

            // 2. Reports from two edges, as an edge writes them; any silo answers for any device, with the same owner.
            var devices = Enumerable.Range(0, Devices).Select(i => $"dev-{i:00}").ToList();
            using (ReportPublisher edge1 = new(cluster.BootstrapServers, "edge-1"), edge2 = new(cluster.BootstrapServers, "edge-2"))
            {
                for (int round = 0; round < 3; round++)
                {
                    foreach (string d in devices)
                    {
                        edge1.PublishDevice(Report(d));
                        edge2.PublishDevice(Report(d));
                    }
                }

                Assert.True(edge1.Flush(TimeSpan.FromSeconds(10)) && edge2.Flush(TimeSpan.FromSeconds(10)));
            }

            ulong expected = 6 * PacketsPerReport;
            Assert.True(await ControlPlaneCluster.WaitFor(() => devices.All(d => Packets(http, silos[0].Url, d) == expected), TimeSpan.FromSeconds(20)));
            foreach (string d in devices)
            {
                string owner = owners[GrainPartitioner.Partition(GrainKey.Device(d), Partitions)];
                foreach (SiloProcess asked in silos)
                {
                    using HttpResponseMessage r = await http.GetAsync($"{asked.Url}/api/devices/{d}");
                    Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                    using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
                    Assert.Equal(owner, doc.RootElement.GetProperty("owner_silo").GetString());
                    Assert.Equal(expected, doc.RootElement.GetProperty("packets").GetUInt64());
                    Assert.Equal(owner, r.Headers.GetValues("X-Klais-Owner").Single());
                }
            }

            // 3. One more report per edge and device; once the victim has handled its share (not yet committed: the
            //    checkpoint interval is 3 s), kill -9 it.
            SiloProcess victim = silos[1];
            var victimDevices = devices.Where(d => owners[GrainPartitioner.Partition(GrainKey.Device(d), Partitions)] == victim.Id).ToList();
            Assert.NotEmpty(victimDevices);
            long before = Processed(http, victim.Url);
            using (ReportPublisher edge1 = new(cluster.BootstrapServers, "edge-1"), edge2 = new(cluster.BootstrapServers, "edge-2"))
            {
                foreach (string d in devices)
                {
                    edge1.PublishDevice(Report(d));
                    edge2.PublishDevice(Report(d));
                }

                Assert.True(edge1.Flush(TimeSpan.FromSeconds(10)) && edge2.Flush(TimeSpan.FromSeconds(10)));
            }

            Assert.True(await ControlPlaneCluster.WaitFor(() => Processed(http, victim.Url) >= before + 2 * victimDevices.Count, TimeSpan.FromSeconds(10)));
            victim.Kill9();
            var sinceKill = Stopwatch.StartNew();
            expected += 2 * PacketsPerReport;

            // 4. Within 15 s every device answers from a survivor, counters exact: nothing lost, nothing counted twice.
            SiloProcess survivor = silos[0];
            bool served = await ControlPlaneCluster.WaitFor(() => devices.All(d => Packets(http, survivor.Url, d) == expected), FailoverBound);
            TimeSpan failover = sinceKill.Elapsed;
            output.WriteLine($"failover: all {Devices} devices ({victimDevices.Count} from the killed silo) served with exact state after {failover.TotalSeconds:0.0} s");
            Assert.True(served, $"not served within {FailoverBound}: " + string.Join(", ", devices.Select(d => $"{d}={Packets(http, survivor.Url, d)}")));
            Assert.True(failover < FailoverBound);
            foreach (string d in victimDevices)
            {
                using JsonDocument doc = JsonDocument.Parse(await http.GetStringAsync($"{silos[2].Url}/api/devices/{d}"));
                Assert.NotEqual(victim.Id, doc.RootElement.GetProperty("owner_silo").GetString());
            }

            // The survivors kept the partitions they already had (no full restore: nobody else wrote there).
            using (JsonDocument events = JsonDocument.Parse(await http.GetStringAsync(survivor.Url + "/api/events?scope=local")))
            {
                Assert.Contains(events.RootElement.GetProperty("items").EnumerateArray(),
                    e => e.GetProperty("detail").GetString()!.StartsWith("kept under epoch", StringComparison.Ordinal));
            }

            Dictionary<int, string>? after = null;
            Assert.True(await ControlPlaneCluster.WaitFor(() => (after = Ownership(http, survivor.Url, 2)) is not null, TimeSpan.FromSeconds(10)));
            Assert.DoesNotContain(victim.Id, after!.Values);

            // 5. Never two owners: per partition, claims have strictly increasing epochs, one silo each, and no state
            //    record was written under an epoch older than the newest claim before it.
            IReadOnlyList<TopicRecord> changelog = TopicReader.ReadToEnd(cluster.BootstrapServers, ControlPlaneTopics.GrainState, TimeSpan.FromSeconds(20));
            foreach (IGrouping<int, TopicRecord> partition in changelog.GroupBy(r => r.Partition))
            {
                long epoch = 0;
                string? claimant = null;
                var claims = new List<string>();
                foreach (TopicRecord r in partition.OrderBy(r => r.Offset))
                {
                    GrainStateRecord record = GrainStateRecord.Parser.ParseFrom(r.Value);
                    if (record.BodyCase == GrainStateRecord.BodyOneofCase.Owner)
                    {
                        Assert.True(record.Epoch > epoch, $"partition {partition.Key}: claim {record.Epoch} after {epoch}");
                        (epoch, claimant) = (record.Epoch, record.SiloId);
                        claims.Add($"{record.Epoch}:{record.SiloId}");
                        continue;
                    }

                    Assert.Equal(epoch, record.Epoch);
                    Assert.Equal(claimant, record.SiloId);
                }

                output.WriteLine($"partition {partition.Key} claims: {string.Join(" ", claims)}");
            }

            Assert.Contains(changelog, r => GrainStateRecord.Parser.ParseFrom(r.Value).Owner is { } && GrainStateRecord.Parser.ParseFrom(r.Value).SiloId == victim.Id);
        }
        finally
        {
            foreach (SiloProcess silo in silos)
            {
                silo.Dispose();
            }
        }
    }

    private static DeviceReport Report(string device) => new()
    {
        DeviceId = device,
        WindowMs = 1000,
        Packets = PacketsPerReport,
        Bytes = PacketsPerReport * 64,
        SourceAddresses = { "192.0.2.7" },
    };

    /// <summary>Partition → serving silo from /api/silos, when exactly <paramref name="silos"/> live silos serve every partition once.</summary>
    private static Dictionary<int, string>? Ownership(HttpClient http, string url, int silos)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(http.GetStringAsync(url + "/api/silos").GetAwaiter().GetResult());
            var owners = new Dictionary<int, string>();
            int live = 0;
            foreach (JsonElement silo in doc.RootElement.EnumerateArray().Where(s => s.GetProperty("alive").GetBoolean()))
            {
                live++;
                foreach (JsonElement p in silo.GetProperty("partitions").EnumerateArray())
                {
                    if (!owners.TryAdd(p.GetProperty("partition").GetInt32(), silo.GetProperty("silo_id").GetString()!))
                    {
                        return null;
                    }
                }
            }

            return live == silos && owners.Count == Partitions && owners.Values.Distinct().Count() == silos ? owners : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static ulong Packets(HttpClient http, string url, string device)
    {
        try
        {
            using HttpResponseMessage r = http.GetAsync($"{url}/api/devices/{device}").GetAwaiter().GetResult();
            if (r.StatusCode != HttpStatusCode.OK)
            {
                return 0;
            }

            using JsonDocument doc = JsonDocument.Parse(r.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            return doc.RootElement.GetProperty("packets").GetUInt64();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private static long Processed(HttpClient http, string url)
    {
        using JsonDocument doc = JsonDocument.Parse(http.GetStringAsync(url + "/health").GetAwaiter().GetResult());
        return doc.RootElement.GetProperty("processed").GetInt64();
    }
}

/// <summary>The kill -9 test measures time against a bound: it runs alone, after the tests that may run in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloClusterRunsAlone
{
    public const string Name = "silo cluster (not in parallel)";
}
