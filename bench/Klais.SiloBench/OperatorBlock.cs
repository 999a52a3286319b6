using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.SiloBench;

/// <summary>
/// <c>operator-block [blocks] [klais-edge]</c> (the published executable, or a JIT build's klais-edge.dll): an operator's block from the grain API's POST until both edges
/// enforce it. One in-process silo on a redis-server of its own, the Kafka dev cluster, two klais-edge processes
/// (the published binary) following klais.control. One block every 30 ms; both edges' <c>GET /blocklist</c> polled
/// back to back, so a block counts as reached when the second edge lists it.
/// </summary>
internal static class OperatorBlock
{
    private static readonly TimeSpan Spacing = TimeSpan.FromMilliseconds(30);

    public static async Task<int> RunAsync(int blocks, string edgeDll)
    {
        if (!File.Exists(edgeDll))
        {
            Console.Error.WriteLine($"operator-block: {edgeDll} not found (make publish, or pass the path of klais-edge or klais-edge.dll)");
            return 2;
        }

        using var redis = new RedisServer();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, 12);
        cluster.CreateTopic("iot_telemetry", 2);
        await using KlaisSilo silo = await KlaisSilo.StartAsync(Program.Config(cluster.BootstrapServers, redis));
        string scratch = Directory.CreateTempSubdirectory("klais-bench-edges-").FullName;
        var edges = new List<(Process Process, HttpClient Api)>();
        try
        {
            for (int e = 1; e <= 2; e++)
            {
                edges.Add(StartEdge(edgeDll, cluster.BootstrapServers, "edge-" + e.ToString(CultureInfo.InvariantCulture), Path.Combine(scratch, "edge-" + e)));
            }

            using var api = new HttpClient { BaseAddress = new Uri(silo.ApiUrl), Timeout = TimeSpan.FromSeconds(10) };

            // Warm: the first block activates a grain, the control producer and the edges' followers.
            var warm = Stopwatch.StartNew();
            while (!await Reached(edges, "warm-up"))
            {
                if (warm.Elapsed > TimeSpan.FromSeconds(60))
                {
                    Console.Error.WriteLine("operator-block: the warm-up block did not reach both edges within 60 s");
                    return 1;
                }

                using HttpResponseMessage response = await Post(api, "warm-up");
                await Task.Delay(200);
            }

            string[] ids = [.. Enumerable.Range(0, blocks).Select(i => "op-" + i.ToString(CultureInfo.InvariantCulture))];
            var sent = new long[blocks];
            var seen = new long[blocks];
            using var watching = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Task watcher = Task.Run(async () =>
            {
                int remaining = blocks;
                while (remaining > 0 && !watching.IsCancellationRequested)
                {
                    HashSet<string>[] lists = await Task.WhenAll(edges.Select(e => Blocklist(e.Api)));
                    long now = Stopwatch.GetTimestamp();
                    for (int i = 0; i < blocks; i++)
                    {
                        if (seen[i] == 0 && Volatile.Read(ref sent[i]) != 0 && lists.All(l => l.Contains(ids[i])))
                        {
                            seen[i] = now;
                            remaining--;
                        }
                    }
                }
            });
            var posts = new List<Task<HttpResponseMessage>>(blocks);
            for (int i = 0; i < blocks; i++)
            {
                Volatile.Write(ref sent[i], Stopwatch.GetTimestamp());
                posts.Add(Post(api, ids[i]));
                await Task.Delay(Spacing);
            }

            HttpResponseMessage[] answers = await Task.WhenAll(posts);
            await watcher;
            int refused = answers.Count(a => !a.IsSuccessStatusCode);
            foreach (HttpResponseMessage answer in answers)
            {
                answer.Dispose();
            }

            double[] ms = [.. Enumerable.Range(0, blocks).Select(i => seen[i] == 0 ? double.PositiveInfinity : (seen[i] - sent[i]) * 1000.0 / Stopwatch.Frequency).Order()];
            double P(double q) => ms[Math.Max(0, (int)Math.Ceiling(q * blocks) - 1)];
            Console.WriteLine($"operator-block: {blocks} blocks, one every {Spacing.TotalMilliseconds} ms, POST /api/devices/{{id}}/block -> listed by both edges: "
                + $"p50 {P(0.5):0} ms, p99 {P(0.99):0} ms, max {ms[^1]:0} ms; {ms.Count(double.IsPositiveInfinity)} never reached, {refused} refused");
            return refused == 0 && !double.IsPositiveInfinity(ms[^1]) ? 0 : 1;
        }
        finally
        {
            foreach ((Process process, HttpClient http) in edges)
            {
                http.Dispose();
                process.Kill();
                await process.WaitForExitAsync();
                process.Dispose();
            }

            Directory.Delete(scratch, recursive: true);
        }
    }

    private static (Process Process, HttpClient Api) StartEdge(string edgeDll, string bootstrap, string nodeId, string spill)
    {
        int apiPort = FreePorts.Next();
        ProcessStartInfo info = edgeDll.EndsWith(".dll", StringComparison.Ordinal) ? new ProcessStartInfo("dotnet", edgeDll) : new ProcessStartInfo(Path.GetFullPath(edgeDll));
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("KLAIS_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["KLAIS_KAFKA_BOOTSTRAP"] = bootstrap;
        info.Environment["KLAIS_CONTROL"] = "on";
        info.Environment["KLAIS_NODE_ID"] = nodeId;
        info.Environment["KLAIS_UDP_BIND"] = "127.0.0.1:" + FreePorts.Next(SocketType.Dgram).ToString(CultureInfo.InvariantCulture);
        info.Environment["KLAIS_API_BIND"] = "127.0.0.1:" + apiPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["KLAIS_SPILL_DIR"] = spill;
        info.Environment["KLAIS_LOG_LEVEL"] = "warning";
        Process process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 })
            {
                Console.Error.WriteLine($"[{nodeId}] {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(5) });
    }

    private static async Task<bool> Reached(List<(Process Process, HttpClient Api)> edges, string id)
    {
        foreach ((_, HttpClient http) in edges)
        {
            if (!(await Blocklist(http)).Contains(id))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The device ids an edge enforces a block for; empty while its API is not up yet.</summary>
    private static async Task<HashSet<string>> Blocklist(HttpClient edge)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(await edge.GetStringAsync(new Uri("/blocklist", UriKind.Relative)));
            return [.. doc.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("device_id").GetString()!)];
        }
        catch (HttpRequestException)
        {
            return [];
        }
    }

    private static Task<HttpResponseMessage> Post(HttpClient api, string deviceId) =>
        api.PostAsJsonAsync(new Uri($"/api/devices/{deviceId}/block", UriKind.Relative), new { ttl_seconds = 600, reason = "operator-block benchmark" });
}
