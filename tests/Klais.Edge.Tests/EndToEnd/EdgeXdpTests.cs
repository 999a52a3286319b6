using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Testing;
using Klais.Xdp.Tests.Support;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>
/// klais-edge with its XDP filter, as a process inside a network namespace, fed over a veth from another namespace:
/// what the kernel drops never reaches user space, and the edge API's blocklist and limits land in the BPF maps.
/// Kafka is the edge's embedded dev cluster (the namespace has no route to the test's loopback).
/// </summary>
public sealed class EdgeXdpTests : IDisposable
{
    private const int Port = 5000;
    private const int ApiPort = 8080;
    private readonly VethPair _veth = new();
    private readonly StringBuilder _output = new();
    private readonly List<(int Pid, DateTime StartTime)> _started = [];

    public void Dispose()
    {
        // A test that failed before its SIGTERM must not leave an edge running (it would outlive its namespace).
        // By pid and start time: the tests' `using` has disposed the Process objects by now.
        foreach ((int pid, DateTime startTime) in _started)
        {
            try
            {
                using Process edge = Process.GetProcessById(pid);
                if (edge.StartTime == startTime && !edge.HasExited)
                {
                    edge.Kill();
                    edge.WaitForExit(10_000);
                }
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }

        _veth.Dispose();
    }

    private Process StartEdge(params (string Name, string Value)[] env)
    {
        ProcessStartInfo info = ChildProcess.Info("ip", "netns", "exec", _veth.ReceiverNamespace, "dotnet", Path.Combine(AppContext.BaseDirectory, "klais-edge.dll"));

        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("KLAIS_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["KLAIS_UDP_BIND"] = $"0.0.0.0:{Port}";
        info.Environment["KLAIS_API_BIND"] = $"{VethPair.ReceiverV4}:{ApiPort}";
        info.Environment["KLAIS_NODE_ID"] = "xdp-edge";
        info.Environment["KLAIS_LOG_LEVEL"] = "info";
        info.Environment["KLAIS_RECEIVE_THREADS"] = "1";
        foreach ((string name, string value) in env)
        {
            info.Environment[name] = value;
        }

        Process process = ChildProcess.Start(info);
        _started.Add((process.Id, process.StartTime));
        process.OutputDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (_output) { _output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>An HTTP client whose connections are made from the sender namespace (the API listens on the veth).</summary>
    private HttpClient ClientFromSenderSide() => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancel) =>
        {
            Socket socket = _veth.Sender.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            try
            {
                await socket.ConnectAsync(new IPEndPoint(VethPair.ReceiverV4, context.DnsEndPoint.Port), cancel);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri($"http://{VethPair.ReceiverV4}:{ApiPort}/") };

    private static async Task<JsonElement> GetAsync(HttpClient http, string path)
    {
        using JsonDocument doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative)));
        return doc.RootElement.Clone();
    }

    private async Task<JsonElement> WaitForHealthAsync(HttpClient http, Process edge)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(edge.HasExited, "the edge exited: " + _output);
            try
            {
                return await GetAsync(http, "/health");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException("no /health within 60 s: " + _output);
    }

    private static byte[] Datagram(string device, uint sequence)
    {
        byte[] buffer = new byte[Contracts.Wire.Datagram.HeaderLength + 2];
        Contracts.Wire.Datagram.Write(buffer, Encoding.UTF8.GetBytes(device), sequence, "{}"u8);
        return buffer;
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    [PrivilegedFact]
    public async Task The_kernel_drops_garbage_blocked_and_over_rate_devices_and_user_space_receives_only_the_rest()
    {
        using Process edge = StartEdge(("KLAIS_XDP_IFACE", _veth.ReceiverInterface), ("KLAIS_XDP_MODE", "generic"));
        using HttpClient http = ClientFromSenderSide();
        JsonElement health = await WaitForHealthAsync(http, edge);
        Assert.True(health.GetProperty("xdp").GetProperty("attached").GetBoolean(), _output.ToString());
        Assert.Equal("generic", health.GetProperty("xdp").GetProperty("mode").GetString());

        using Socket sender = _veth.OpenSender(AddressFamily.InterNetwork);
        var target = new IPEndPoint(VethPair.ReceiverV4, Port);
        for (uint s = 1; s <= 100; s++)
        {
            sender.SendTo(Datagram("dev-ok", s), target);
            byte[] magic = Datagram("dev-junk", s);
            magic[0] = 0x12;
            sender.SendTo(magic, target);
            sender.SendTo(Datagram("dev-junk", s).AsSpan(0, 10), target);
        }

        using (HttpResponseMessage r = await http.PostAsync(new Uri("/blocklist", UriKind.Relative),
            JsonContent.Create(new { device_id = "dev-bad", ttl_seconds = 600, reason = "test" })))
        {
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        }

        using (HttpResponseMessage r = await http.PutAsync(new Uri("/limits/dev-lim", UriKind.Relative), JsonContent.Create(new { rate = 1, burst = 3 })))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        for (uint s = 1; s <= 40; s++)
        {
            sender.SendTo(Datagram("dev-bad", s), target);
            sender.SendTo(Datagram("dev-lim", s), target);
        }

        // 100 dev-ok + 3 dev-lim (its burst) reach user space and Kafka; nothing else does.
        Assert.True(await EventuallyAsync(async () => (await GetAsync(http, "/stats")).GetProperty("kafka").GetProperty("delivered").GetInt64() >= 103), _output.ToString());
        JsonElement stats = await GetAsync(http, "/stats");
        JsonElement xdp = stats.GetProperty("xdp");
        Assert.Equal(100, xdp.GetProperty("dropped_magic").GetInt64());
        Assert.Equal(100, xdp.GetProperty("dropped_size").GetInt64());
        Assert.Equal(40, xdp.GetProperty("dropped_blocked").GetInt64());
        Assert.InRange(xdp.GetProperty("dropped_rate").GetInt64(), 36, 37);   // a token may refill during the send
        Assert.InRange(xdp.GetProperty("passed").GetInt64(), 103, 104);
        Assert.Equal(xdp.GetProperty("passed").GetInt64(), stats.GetProperty("receive").GetProperty("datagrams").GetInt64());
        Assert.Equal(xdp.GetProperty("passed").GetInt64(), stats.GetProperty("kafka").GetProperty("delivered").GetInt64());
        JsonElement rejected = stats.GetProperty("rejected");
        Assert.Equal(0, rejected.GetProperty("bad_magic").GetInt64());
        Assert.Equal(0, rejected.GetProperty("blocked").GetInt64());
        Assert.True(xdp.GetProperty("events_first_seen").GetInt64() >= 1);
        Assert.Equal("kernel", (await GetAsync(http, "/blocklist")).GetProperty("enforced_in").GetString());

        // Unblocked in the API → the next packet passes the kernel.
        using (HttpResponseMessage r = await http.DeleteAsync(new Uri("/blocklist/dev-bad", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        sender.SendTo(Datagram("dev-bad", 41), target);
        long passedBefore = xdp.GetProperty("passed").GetInt64();
        Assert.True(await EventuallyAsync(async () => (await GetAsync(http, "/stats")).GetProperty("kafka").GetProperty("delivered").GetInt64() == passedBefore + 1));

        // SIGTERM: the edge detaches its program and exits 0.
        await TerminateAsync(edge);
        Assert.Equal(0, edge.ExitCode);
        Assert.Contains("XDP filter detached", _output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("xdp", Ip.Run("-n", _veth.ReceiverNamespace, "link", "show", _veth.ReceiverInterface), StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public async Task Generic_mode_that_cannot_attach_exits_2_and_auto_mode_runs_without_xdp_saying_why()
    {
        using (Process failing = StartEdge(("KLAIS_XDP_IFACE", "nosuch0"), ("KLAIS_XDP_MODE", "generic")))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await failing.WaitForExitAsync(timeout.Token);
            Assert.Equal(2, failing.ExitCode);
            Assert.Contains("nosuch0", _output.ToString(), StringComparison.Ordinal);
            Assert.Contains("KLAIS_XDP_MODE=generic", _output.ToString(), StringComparison.Ordinal);
        }

        using Process edge = StartEdge(("KLAIS_XDP_IFACE", "nosuch0"));
        using HttpClient http = ClientFromSenderSide();
        JsonElement health = await WaitForHealthAsync(http, edge);
        JsonElement xdp = health.GetProperty("xdp");
        Assert.False(xdp.GetProperty("attached").GetBoolean());
        Assert.Contains("nosuch0", xdp.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(health.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("XDP could not be attached", StringComparison.Ordinal));
        await TerminateAsync(edge);
        Assert.Equal(0, edge.ExitCode);
    }

    private static async Task TerminateAsync(Process edge)
    {
        using (Process kill = ChildProcess.Run(new ProcessStartInfo("kill", $"-TERM {edge.Id}")))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await edge.WaitForExitAsync(timeout.Token);
    }
}
