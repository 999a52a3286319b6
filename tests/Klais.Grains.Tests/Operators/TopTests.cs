using Klais.Cli.Top;
using Klais.Client;
using Klais.Contracts.Proto;
using Klais.Grains.Tests.Silo;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;
using Spectre.Console;

namespace Klais.Grains.Tests.Operators;

/// <summary><c>klais top</c> against a live in-process silo: what it reads, how keys change it, what it draws (Spectre's renderer into text).</summary>
public sealed class TopTests
{
    [Fact]
    public async Task Top_shows_the_edges_in_the_chosen_order_a_blocked_device_and_its_details_on_enter()
    {
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 2);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster);
        using (var a = new ReportPublisher(cluster.BootstrapServers, "edge-a"))
        using (var b = new ReportPublisher(cluster.BootstrapServers, "edge-b"))
        {
            a.PublishNode(new NodeReport { NodeId = "edge-a", ReceivedPerSecond = 100, PassedPerSecond = 100, KafkaLag = 5000 });
            b.PublishNode(new NodeReport { NodeId = "edge-b", ReceivedPerSecond = 900, PassedPerSecond = 880, KafkaLag = 10 });
            a.PublishDevice(new DeviceReport { DeviceId = "bad-1", WindowMs = 1000, Packets = 42, Bytes = 2520 });
            a.Flush(TimeSpan.FromSeconds(10));
            b.Flush(TimeSpan.FromSeconds(10));
        }

        using var api = new KlaisApiClient(new Uri(silo.ApiUrl));
        Assert.True(await Eventually.TrueAsync(async () => await api.GetDeviceAsync("bad-1") is { Packets: 42 }, TimeSpan.FromSeconds(30)), "the device report was not ingested");
        await api.BlockAsync("bad-1", 600, "top test");
        var state = new TopState(silo.ApiUrl);
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await state.RefreshAsync(api, TimeProvider.System, CancellationToken.None);
            return state.Edges.Count == 2 && state.Anomalies.Any(x => x.DeviceId == "bad-1" && x.Blocked);
        }, TimeSpan.FromSeconds(30)), $"top never saw both edges and the block: {state.Problem}");

        string byRate = Draw(state);
        Assert.Contains("bad-1", byRate, StringComparison.Ordinal);
        Assert.Contains("blocked", byRate, StringComparison.Ordinal);
        Assert.Contains("top test", byRate, StringComparison.Ordinal);
        Assert.True(byRate.IndexOf("edge-b", StringComparison.Ordinal) < byRate.IndexOf("edge-a", StringComparison.Ordinal), "by rate, edge-b (900/s) comes first:\n" + byRate);

        state.Press(new ConsoleKeyInfo('s', ConsoleKey.S, false, false, false));
        string byLag = Draw(state);
        Assert.Contains("now by lag", byLag, StringComparison.Ordinal);
        Assert.True(byLag.IndexOf("edge-a", StringComparison.Ordinal) < byLag.IndexOf("edge-b", StringComparison.Ordinal), "by lag, edge-a (5000) comes first:\n" + byLag);

        Assert.Equal("bad-1", state.SelectedDevice);
        Assert.True(state.Press(new ConsoleKeyInfo('\r', ConsoleKey.Enter, false, false, false)));
        await state.RefreshAsync(api, TimeProvider.System, CancellationToken.None);
        string details = Draw(state);
        Assert.Contains("packets 42", details, StringComparison.Ordinal);
        Assert.Contains("blocked by operator: top test", details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_token_where_one_is_needed_top_says_so_instead_of_showing_nothing()
    {
        string tokens = Path.GetTempFileName();
        File.WriteAllLines(tokens, ["reader-token-0123456789 read"]);
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster, ("KLAIS_API_TOKENS_FILE", tokens));
        File.Delete(tokens);
        using var api = new KlaisApiClient(new Uri(silo.ApiUrl));
        var state = new TopState(silo.ApiUrl);

        await state.RefreshAsync(api, TimeProvider.System, CancellationToken.None);
        Assert.Contains("401", state.Problem, StringComparison.Ordinal);
        Assert.Contains("Authorization: Bearer <token>", Draw(state), StringComparison.Ordinal);

        api.Token = "reader-token-0123456789";
        await state.RefreshAsync(api, TimeProvider.System, CancellationToken.None);
        Assert.Null(state.Problem);
        KlaisApiException refused = await Assert.ThrowsAsync<KlaisApiException>(() => api.BlockAsync("dev-x", 60, "read cannot block"));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.Status);
    }

    private static string Draw(TopState state)
    {
        using var writer = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 220;
        console.Write(TopView.Render(state, DateTimeOffset.UtcNow));
        return writer.ToString();
    }
}
