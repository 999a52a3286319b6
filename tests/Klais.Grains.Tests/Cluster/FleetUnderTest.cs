using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Tests.EndToEnd;
using Klais.Kafka;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.Grains.Tests.Cluster;

/// <summary>
/// A fleet of real processes: a redis-server, the Kafka dev cluster (librdkafka's mock, in this process), three
/// klais-silo processes on Redis clustering and Redis state, and klais-edge processes (two unless asked) reporting to
/// them. Devices send datagrams to every edge in rounds; every round adds exactly <see cref="PerRound"/> packets per
/// edge to each device's counters, so the expected counters are known at every moment. <see cref="StartLoad"/> adds a
/// steady stream of other devices' datagrams to every edge, for tests that need traffic to judge.
/// </summary>
internal sealed class FleetUnderTest : IAsyncDisposable
{
    public const int PerRound = 5;
    private readonly KafkaDevCluster _kafka;
    private readonly List<EdgeProcess> _edges = [];
    private readonly List<int> _udpPorts = [];

    // One socket for every round: one source port, so each edge's SO_REUSEPORT hashing hands all of a device's
    // datagrams to one receive thread, in order. (From a new port per round, round 2 could overtake round 1 on another
    // thread; an edge takes a device's first datagram as the top of its window and drops the older ones as duplicates.)
    private readonly Socket _sender = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly string _scratch = Directory.CreateTempSubdirectory("klais-fleet-").FullName;
    private uint _sequence;
    private readonly CancellationTokenSource _stopLoad = new();
    private Task? _load;

    private FleetUnderTest(RedisServer redis, KafkaDevCluster kafka, IReadOnlyList<SiloProcess> silos)
    {
        Redis = redis;
        _kafka = kafka;
        Silos = silos;
    }

    public RedisServer Redis { get; }

    public IReadOnlyList<SiloProcess> Silos { get; }

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(5) };

    public IReadOnlyList<string> Devices { get; } = [.. Enumerable.Range(0, 30).Select(i => $"fleet-{i:00}")];

    public int Rounds { get; private set; }

    /// <summary>The edges, in order: edge-1, edge-2, ...</summary>
    public IReadOnlyList<EdgeProcess> Edges => _edges;

    public string KafkaBootstrap => _kafka.BootstrapServers;

    /// <summary>What every device's packet counter must read once the rounds sent so far are ingested.</summary>
    public ulong Expected => (ulong)(Rounds * PerRound * _edges.Count);

    public static async Task<FleetUnderTest> StartAsync(int silos = 3, Dictionary<string, string>? siloSettings = null, int edges = 2,
        Dictionary<string, string>? edgeSettings = null)
    {
        var redis = new RedisServer();
        KafkaDevCluster kafka = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(kafka, 12);
        kafka.CreateTopic("iot_telemetry", 2);
        string cluster = "test-" + Guid.NewGuid().ToString("N")[..8];
        var processes = new List<SiloProcess>();
        for (int i = 1; i <= silos; i++)
        {
            var environment = new Dictionary<string, string>
            {
                ["KLAIS_REDIS"] = redis.Configuration,
                ["KLAIS_KAFKA_BOOTSTRAP"] = kafka.BootstrapServers,
                ["KLAIS_CLUSTER_ID"] = cluster,
                ["KLAIS_SILO_PORT"] = EdgeProcess.FreePort(SocketType.Stream).ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["KLAIS_SILO_GATEWAY_PORT"] = EdgeProcess.FreePort(SocketType.Stream).ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0",
                ["KLAIS_LOG_LEVEL"] = Environment.GetEnvironmentVariable("KLAIS_TEST_SILO_LOG_LEVEL") ?? "warning",
            };
            foreach ((string name, string value) in siloSettings ?? [])
            {
                environment[name] = value;
            }

            processes.Add(new SiloProcess("s" + i, environment));
        }

        var fleet = new FleetUnderTest(redis, kafka, processes);
        foreach (SiloProcess silo in processes)
        {
            await silo.WaitListening(TimeSpan.FromSeconds(90));
        }

        for (int e = 1; e <= edges; e++)
        {
            int udp = EdgeProcess.FreePort(SocketType.Dgram);
            Dictionary<string, string> environment = EdgeProcess.FleetMember(kafka.BootstrapServers, "edge-" + e, udp, fleet._scratch);
            foreach ((string name, string value) in edgeSettings ?? [])
            {
                environment[name] = value;
            }

            EdgeProcess edge = EdgeProcess.Start(environment);
            fleet._edges.Add(edge);
            fleet._udpPorts.Add(udp);
            Assert.True(await edge.WaitUntilServingAsync(TimeSpan.FromSeconds(60)) && !edge.Process.HasExited, edge.OutputText);
        }

        return fleet;
    }

    /// <summary>True once every silo is Active in Orleans' membership and their consumers share all 12 partitions.</summary>
    public async Task<bool> FormedAsync(IReadOnlyList<SiloProcess> members)
    {
        int active = 0, partitions = 0;
        foreach (SiloProcess silo in members)
        {
            using JsonDocument silos = JsonDocument.Parse(await Http.GetStringAsync(silo.Url + "/api/silos"));
            active = Math.Max(active, silos.RootElement.EnumerateArray().Count(s => s.GetProperty("status").GetString() == "Active"));
            using JsonDocument health = JsonDocument.Parse(await Http.GetStringAsync(silo.Url + "/health"));
            int mine = health.RootElement.GetProperty("ingestion").GetProperty("partitions").GetInt32();
            if (mine == 0)
            {
                return false;
            }

            partitions += mine;
        }

        return active == members.Count && partitions == 12;
    }

    /// <summary>Sends one round: <see cref="PerRound"/> datagrams of every device to each edge.</summary>
    public void SendRound()
    {
        Span<byte> buffer = stackalloc byte[64];
        for (int i = 0; i < PerRound; i++)
        {
            uint sequence = ++_sequence;
            foreach (string device in Devices)
            {
                int length = Datagram.Write(buffer, Encoding.UTF8.GetBytes(device), sequence, "{\"t\":1}"u8);
                foreach (int port in _udpPorts)
                {
                    _sender.SendTo(buffer[..length], new IPEndPoint(IPAddress.Loopback, port));
                }
            }
        }

        Rounds++;
    }

    /// <summary>
    /// Sends <paramref name="perSecond"/> datagrams a second to every edge until disposal, spread over ten devices of
    /// their own ("load-0" to "load-9", sequences increasing), in bursts every 50 ms.
    /// </summary>
    public void StartLoad(int perSecond)
    {
        CancellationToken stop = _stopLoad.Token;
        _load = Task.Run(async () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            byte[] buffer = new byte[64];
            byte[][] ids = [.. Enumerable.Range(0, 10).Select(i => Encoding.UTF8.GetBytes($"load-{i}"))];
            uint sequence = 0;
            int perTick = Math.Max(1, perSecond / 20 / ids.Length);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                for (int i = 0; i < perTick; i++)
                {
                    sequence++;
                    foreach (byte[] id in ids)
                    {
                        int length = Datagram.Write(buffer, id, sequence, "{\"t\":1}"u8);
                        foreach (int port in _udpPorts)
                        {
                            socket.SendTo(buffer.AsSpan(0, length), new IPEndPoint(IPAddress.Loopback, port));
                        }
                    }
                }
            }
        }, stop);
    }

    /// <summary>A silo's API answer as JSON and its status code; (0, null) when it did not answer.</summary>
    public async Task<(int Status, JsonElement? Body)> CallAsync(SiloProcess silo, HttpMethod method, string path, string? body = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, silo.Url + path);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            using HttpResponseMessage response = await Http.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone());
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (0, null);
        }
    }

    /// <summary>The policy version each edge's <c>/stats</c> says is in force, by node id (-1: it did not answer).</summary>
    public async Task<Dictionary<string, long>> EdgePolicyVersionsAsync()
    {
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < _edges.Count; i++)
        {
            try
            {
                JsonElement stats = await _edges[i].GetJsonAsync("/stats");
                versions["edge-" + (i + 1)] = stats.GetProperty("control").GetProperty("applied_policy_version").GetInt64();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or KeyNotFoundException)
            {
                versions["edge-" + (i + 1)] = -1;
            }
        }

        return versions;
    }

    /// <summary>The device as <paramref name="silo"/>'s API answers it: (packets, owner silo), or null when it did not answer 200.</summary>
    public async Task<(ulong Packets, string Owner)?> DeviceAsync(SiloProcess silo, string device)
    {
        try
        {
            using HttpResponseMessage response = await Http.GetAsync($"{silo.Url}/api/devices/{device}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return (doc.RootElement.GetProperty("packets").GetUInt64(), doc.RootElement.GetProperty("owner_silo").GetString()!);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Every device's (packets, owner) as <paramref name="silo"/> answers, and each silo's ingestion figures.</summary>
    public async Task<string> StateAsync(SiloProcess silo)
    {
        var parts = new List<string>();
        foreach (string device in Devices)
        {
            parts.Add($"{device}={await DeviceAsync(silo, device)}");
        }

        foreach (SiloProcess s in Silos.Where(s => !s.Process.HasExited))
        {
            try
            {
                using JsonDocument health = JsonDocument.Parse(await Http.GetStringAsync(s.Url + "/health"));
                parts.Add($"{s.Id}: {health.RootElement.GetProperty("ingestion")} writes {health.RootElement.GetProperty("state_writes").GetProperty("status")}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                parts.Add($"{s.Id}: no answer");
            }
        }

        foreach (EdgeProcess edge in _edges)
        {
            try
            {
                System.Text.Json.JsonElement stats = await edge.GetJsonAsync("/stats");
                parts.Add($"edge: received {stats.GetProperty("receive")}, dam {stats.GetProperty("dam")}, rejected {stats.GetProperty("rejected")}, control {stats.GetProperty("control")}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or KeyNotFoundException)
            {
                parts.Add("edge: " + ex.Message);
            }
        }

        return $"expected {Expected}: " + string.Join("; ", parts);
    }

    public string Describe() => string.Join("\n---\n", Silos.Select(s => $"{s.Id}:\n{Tail(s.Output)}"));

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;

    public async ValueTask DisposeAsync()
    {
        // KLAIS_TEST_LOGS=DIR keeps every silo's whole output (the failure messages carry only their tails).
        if (Environment.GetEnvironmentVariable("KLAIS_TEST_LOGS") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            foreach (SiloProcess silo in Silos)
            {
                await File.WriteAllTextAsync(Path.Combine(logs, $"{Path.GetFileName(_scratch)}-{silo.Id}.log"), silo.Output);
            }
        }

        await _stopLoad.CancelAsync();
        if (_load is not null)
        {
            try
            {
                await _load;
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stopLoad.Dispose();
        foreach (EdgeProcess edge in _edges)
        {
            edge.Dispose();
        }

        foreach (SiloProcess silo in Silos)
        {
            silo.Dispose();
        }

        Http.Dispose();
        _sender.Dispose();
        _kafka.Dispose();
        Redis.Dispose();
        Directory.Delete(_scratch, recursive: true);
    }
}
