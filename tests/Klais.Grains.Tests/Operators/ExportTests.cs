using System.Text.Json;
using Klais.Cli.Export;
using Klais.Client;
using Klais.Contracts.Proto;
using Klais.Grains.Tests.Silo;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.Grains.Tests.Operators;

/// <summary><c>klais export</c> against a live in-process silo: the same range as JSON, CSV and one self-contained HTML page.</summary>
public sealed class ExportTests
{
    [Fact]
    public async Task An_export_holds_the_ranges_nodes_anomalies_and_blocks_in_every_format_and_a_range_before_them_holds_none()
    {
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster);
        using (var edge = new ReportPublisher(cluster.BootstrapServers, "edge-x"))
        {
            edge.PublishNode(new NodeReport { NodeId = "edge-x", ReceivedPerSecond = 1234, PassedPerSecond = 1200, KafkaLag = 7 });
            edge.Flush(TimeSpan.FromSeconds(10));
        }

        using var api = new KlaisApiClient(new Uri(silo.ApiUrl));
        Assert.True(await Eventually.TrueAsync(async () => await api.GetNodeAsync("edge-x") is not null, TimeSpan.FromSeconds(30)), "the node report was not ingested");
        await api.BlockAsync("dev,\"quoted\"", 600, "export test, with a comma");
        Assert.True(await Eventually.TrueAsync(async () => (await api.ListEventsAsync()).Any(e => e.Kind == "block"), TimeSpan.FromSeconds(30)), "no block event");

        DirectoryInfo dir = Directory.CreateTempSubdirectory("klais-export-");
        try
        {
            DateTimeOffset from = DateTimeOffset.UtcNow.AddHours(-1), to = DateTimeOffset.UtcNow.AddMinutes(1);
            var silos = new Uri(silo.ApiUrl);
            string json = Path.Combine(dir.FullName, "fleet.json"), csv = Path.Combine(dir.FullName, "csv"), html = Path.Combine(dir.FullName, "fleet.html");
            Assert.Equal(0, await ExportCommand.RunAsync(silos, null, from, to, "json", json, CancellationToken.None));
            Assert.Equal(0, await ExportCommand.RunAsync(silos, null, from, to, "csv", csv, CancellationToken.None));
            Assert.Equal(0, await ExportCommand.RunAsync(silos, null, from, to, "html", html, CancellationToken.None));

            using (JsonDocument doc = JsonDocument.Parse(await File.ReadAllTextAsync(json)))
            {
                JsonElement root = doc.RootElement;
                Assert.Equal(["edge-x"], root.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node_id").GetString()));
                Assert.Equal(1234, root.GetProperty("nodes")[0].GetProperty("received_per_second").GetDouble());
                JsonElement anomaly = Assert.Single(root.GetProperty("anomalies").EnumerateArray());
                Assert.Equal("dev,\"quoted\"", anomaly.GetProperty("device_id").GetString());
                Assert.True(anomaly.GetProperty("blocked").GetBoolean());
                JsonElement block = Assert.Single(root.GetProperty("blocks").EnumerateArray());
                Assert.Equal("block", block.GetProperty("kind").GetString());
            }

            string[] nodes = await File.ReadAllLinesAsync(Path.Combine(csv, "nodes.csv"));
            Assert.StartsWith("node_id,health,last_report,received_per_second", nodes[0], StringComparison.Ordinal);
            Assert.StartsWith("edge-x,", nodes[1], StringComparison.Ordinal);
            Assert.Contains(",1234,1200,0,7,", nodes[1], StringComparison.Ordinal);
            string[] anomalies = await File.ReadAllLinesAsync(Path.Combine(csv, "anomalies.csv"));
            Assert.StartsWith("\"dev,\"\"quoted\"\"\",true,", anomalies[1], StringComparison.Ordinal);
            Assert.Contains("\"export test, with a comma\"", anomalies[1], StringComparison.Ordinal);
            Assert.Equal(2, (await File.ReadAllLinesAsync(Path.Combine(csv, "blocks.csv"))).Length);

            string page = await File.ReadAllTextAsync(html);
            Assert.Contains("<svg", page, StringComparison.Ordinal);
            Assert.Contains("edge-x", page, StringComparison.Ordinal);
            Assert.Contains("dev,&quot;quoted&quot;", page, StringComparison.Ordinal);
            Assert.DoesNotContain(" src=", page, StringComparison.Ordinal);  // self-contained: nothing loaded from elsewhere
            Assert.DoesNotContain(" href=", page, StringComparison.Ordinal);

            // A range that ended before anything happened holds nothing.
            string empty = Path.Combine(dir.FullName, "empty.json");
            Assert.Equal(0, await ExportCommand.RunAsync(silos, null, from.AddDays(-2), from.AddDays(-1), "json", empty, CancellationToken.None));
            using JsonDocument none = JsonDocument.Parse(await File.ReadAllTextAsync(empty));
            Assert.Equal(0, none.RootElement.GetProperty("nodes").GetArrayLength() + none.RootElement.GetProperty("anomalies").GetArrayLength() + none.RootElement.GetProperty("blocks").GetArrayLength());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
