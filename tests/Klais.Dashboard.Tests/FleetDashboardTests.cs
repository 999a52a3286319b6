using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Tests.EndToEnd;
using Klais.Grains.Tests.Cluster;
using Klais.Kafka;
using Klais.Silo.Ingestion;
using Klais.Testing;
using Microsoft.Playwright;

namespace Klais.Dashboard.Tests;

/// <summary>
/// The fleet dashboard in Debian's headless Chromium (driven by Playwright, no browser downloaded) against real
/// processes: a redis-server, one klais-silo on Redis clustering and state with API tokens, two klais-edge processes
/// and librdkafka's mock cluster in this process, with datagrams sent to both edges all along.
/// </summary>
[Trait("Category", "Browser")]
public sealed class FleetDashboardTests
{
    private const string Reader = "dashboard-reader-0123456789";
    private const string Operator = "dashboard-operator-0123456789";
    private const string Chromium = "/usr/bin/chromium";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Shows_both_edges_and_the_moving_fleet_rate_and_blocks_on_every_edge_with_operate_but_not_with_read()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/setup.sh installs Debian's chromium package");
        string scratch = Directory.CreateTempSubdirectory("klais-dashboard-").FullName;
        string tokens = Path.Combine(scratch, "tokens");
        File.WriteAllLines(tokens, [$"{Reader} read", $"{Operator} operate"]);
        using var redis = new RedisServer();
        using KafkaDevCluster kafka = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(kafka, 4);
        kafka.CreateTopic("iot_telemetry", 2);
        using var silo = new SiloProcess("s1", new Dictionary<string, string>
        {
            ["KLAIS_REDIS"] = redis.Configuration,
            ["KLAIS_KAFKA_BOOTSTRAP"] = kafka.BootstrapServers,
            ["KLAIS_CLUSTER_ID"] = "dashboard-" + Guid.NewGuid().ToString("N")[..8],
            ["KLAIS_SILO_PORT"] = Port(),
            ["KLAIS_SILO_GATEWAY_PORT"] = Port(),
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0",
            ["KLAIS_API_TOKENS_FILE"] = tokens,
            ["KLAIS_LOG_LEVEL"] = "warning",
        });
        await silo.WaitListening(TimeSpan.FromSeconds(90));

        var edges = new List<EdgeProcess>();
        var udpPorts = new List<int>();
        using var load = new CancellationTokenSource();
        Task sending = Task.CompletedTask;
        try
        {
            for (int e = 1; e <= 2; e++)
            {
                int udp = EdgeProcess.FreePort(SocketType.Dgram);
                EdgeProcess edge = EdgeProcess.Start(EdgeProcess.FleetMember(kafka.BootstrapServers, "edge-" + e, udp, scratch));
                edges.Add(edge);
                udpPorts.Add(udp);
                Assert.True(await edge.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !edge.Process.HasExited, edge.OutputText);
            }

            sending = Task.Run(() => SendLoad(udpPorts, load.Token));

            using IPlaywright playwright = await Playwright.CreateAsync();
            await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox"], // the tests may run as root, where Chromium's sandbox refuses to start
            });
            IPage page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1300 } });
            var outside = new List<string>();
            page.Request += (_, request) =>
            {
                if (!request.Url.StartsWith(silo.Url, StringComparison.Ordinal))
                {
                    outside.Add(request.Url);
                }
            };

            // The page itself is open; its data calls are not, so without a token it says a read token is needed.
            IResponse? opened = await page.GotoAsync(silo.Url + "/");
            Assert.Equal(200, opened!.Status);
            await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("read role", new() { Timeout = 30_000 });
            Assert.Equal(0, await page.Locator("#edge-rows tr").CountAsync());

            // With a read token: both edges are listed from the node grains, and the fleet rate moves.
            await UseToken(page, Reader);
            foreach (string node in new[] { "edge-1", "edge-2" })
            {
                await Assertions.Expect(page.Locator($"#edge-rows tr[data-node='{node}']")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });
            }

            var rates = new HashSet<string>(StringComparer.Ordinal);
            Assert.True(await Eventually.TrueAsync(async () =>
            {
                string rate = (await page.Locator("#fleet-rate").TextContentAsync())!.Trim();
                if (rate is not ("–" or "0"))
                {
                    rates.Add(rate);
                }

                await Task.Delay(500);
                return rates.Count >= 3;
            }, Deadline), $"the fleet rate did not move: {string.Join(", ", rates)}");

            // The charts' history comes from the fleet history grain and grows while the page watches.
            int before = int.Parse((await page.Locator("#fleet-chart").GetAttributeAsync("data-samples"))!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(await Eventually.TrueAsync(async () =>
                int.Parse((await page.Locator("#fleet-chart").GetAttributeAsync("data-samples"))!, System.Globalization.CultureInfo.InvariantCulture) >= Math.Max(before + 3, 5),
                Deadline), "the fleet history did not grow");
            Assert.Equal(2, await page.Locator("#edges-legend span").CountAsync());

            // Top talkers: the sending devices from the silos' ingestion (dash-00 sends in every step).
            await Assertions.Expect(page.Locator("#talker-rows tr[data-device='dash-00']")).ToBeVisibleAsync(new() { Timeout = (float)Deadline.TotalMilliseconds });

            // Blocking with the read token is refused (403) and reaches no edge.
            const string Device = "dash-07";
            await page.FillAsync("#block-device", Device);
            await page.FillAsync("#block-reason", "dashboard test");
            await page.ClickAsync("#block");
            await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync("403: This endpoint needs the role operate; the token has read.",
                new() { Timeout = 30_000 });

            // With an operate token the block goes through the device grain and klais.control to both edges.
            await UseToken(page, Operator);
            await page.ClickAsync("#block");
            await Assertions.Expect(page.Locator("#action-result")).ToHaveTextAsync($"{Device} blocked", new() { Timeout = 30_000 });
            foreach (EdgeProcess edge in edges)
            {
                Assert.True(await Eventually.TrueAsync(async () => (await edge.GetJsonAsync("/blocklist")).GetProperty("devices").EnumerateArray()
                    .Any(d => d.GetProperty("device_id").GetString() == Device), Deadline), $"the block did not reach an edge:\n{edge.OutputText}");
            }

            ILocator blockedRow = page.Locator($"#anomaly-rows tr[data-device='{Device}']");
            await Assertions.Expect(blockedRow).ToContainTextAsync("blocked", new() { Timeout = (float)Deadline.TotalMilliseconds });
            await Assertions.Expect(blockedRow).ToContainTextAsync("dashboard test");
            await blockedRow.Locator("button.evidence").ClickAsync();
            await Assertions.Expect(page.Locator("#evidence")).ToContainTextAsync("blocked by operator", new() { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("#evidence")).ToContainTextAsync("seen at edge-1");
            Assert.Empty(outside);

            await page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath(), FullPage = true });
        }
        finally
        {
            await load.CancelAsync();
            await sending;
            foreach (EdgeProcess edge in edges)
            {
                edge.Dispose();
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    private static async Task UseToken(IPage page, string token)
    {
        await page.FillAsync("#token", token);
        await page.ClickAsync("#token-form button");
    }

    /// <summary>
    /// Datagrams of 40 devices to both edges every 100 ms; how many devices send swings over a 20-step cycle, so the
    /// fleet rate moves. One socket, one source port: each device's datagrams stay in order on each edge.
    /// </summary>
    private static async Task SendLoad(IReadOnlyList<int> ports, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        byte[] buffer = new byte[64];
        uint sequence = 0;
        for (int step = 0; !stop.IsCancellationRequested; step++)
        {
            sequence++;
            int devices = 10 + Math.Abs(step % 40 - 20) + 10;
            for (int d = 0; d < devices; d++)
            {
                int length = Datagram.Write(buffer, Encoding.UTF8.GetBytes($"dash-{d:00}"), sequence, "{\"t\":1}"u8);
                foreach (int port in ports)
                {
                    socket.SendTo(buffer.AsSpan(0, length), new IPEndPoint(IPAddress.Loopback, port));
                }
            }

            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>artifacts/dashboard.png; docs/dashboard.png (the README's picture) when KLAIS_UPDATE_SCREENSHOT=1.</summary>
    private static string ScreenshotPath()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Klais.sln")))
        {
            root = root.Parent;
        }

        string dir = root is null ? AppContext.BaseDirectory
            : Environment.GetEnvironmentVariable("KLAIS_UPDATE_SCREENSHOT") == "1" ? Path.Combine(root.FullName, "docs") : Path.Combine(root.FullName, "artifacts");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, "dashboard.png");
    }

    private static string Port() => EdgeProcess.FreePort(SocketType.Stream).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
