using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Klais.Testing;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>klais-edge as a child process of the test, with its HTTP API reachable: exit codes, SIGTERM, SIGKILL.</summary>
internal sealed class EdgeProcess : IDisposable
{
    private readonly HttpClient _http;

    private EdgeProcess(Process process, StringBuilder output, int apiPort)
    {
        Process = process;
        Output = output;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public Process Process { get; }

    /// <summary>stdout and stderr as they arrive.</summary>
    public StringBuilder Output { get; }

    public string OutputText
    {
        get
        {
            lock (Output)
            {
                return Output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts klais-edge with only <paramref name="env"/> as its KLAIS_ settings (the test process's own are removed):
    /// the JIT build beside the tests, or the executable <c>KLAIS_TEST_EDGE</c> names (an absolute path: tests run in
    /// their bin folder; e.g. <c>$PWD/out/bin/klais-edge</c>, the NativeAOT build <c>make publish</c> makes), so the
    /// process tests can run against what is deployed.
    /// </summary>
    public static EdgeProcess Start(Dictionary<string, string> env)
    {
        string? executable = Environment.GetEnvironmentVariable("KLAIS_TEST_EDGE");
        ProcessStartInfo info = string.IsNullOrEmpty(executable)
            ? ChildProcess.Info("dotnet", Path.Combine(AppContext.BaseDirectory, "klais-edge.dll"))
            : ChildProcess.Info(Path.GetFullPath(executable));
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("KLAIS_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        foreach ((string name, string value) in env)
        {
            info.Environment[name] = value;
        }

        var output = new StringBuilder();
        Process process = ChildProcess.Start(info);
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string api = env.GetValueOrDefault("KLAIS_API_BIND", "127.0.0.1:8080");
        return new EdgeProcess(process, output, int.Parse(api[(api.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public static int FreePort(SocketType type) => FreePorts.Next(type);

    /// <summary>
    /// The settings of edge <paramref name="nodeId"/> in a test fleet: Kafka at <paramref name="bootstrap"/>, the
    /// control plane on, fast node and device reports, UDP on <paramref name="udpPort"/>, a free API port, spill
    /// under <paramref name="spillRoot"/>.
    /// </summary>
    public static Dictionary<string, string> FleetMember(string bootstrap, string nodeId, int udpPort, string spillRoot) => new()
    {
        ["KLAIS_KAFKA_BOOTSTRAP"] = bootstrap,
        ["KLAIS_CONTROL"] = "on",
        ["KLAIS_NODE_ID"] = nodeId,
        ["KLAIS_UDP_BIND"] = $"127.0.0.1:{udpPort}",
        ["KLAIS_API_BIND"] = $"127.0.0.1:{FreePort(SocketType.Stream)}",
        ["KLAIS_REPORT_INTERVAL_MS"] = "200",
        ["KLAIS_DEVICE_REPORT_WINDOW_MS"] = "500",
        ["KLAIS_SPILL_DIR"] = Path.Combine(spillRoot, nodeId),
        ["KLAIS_LOG_LEVEL"] = "warning",
    };

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using JsonDocument doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri(path, UriKind.Relative)));
        return doc.RootElement.Clone();
    }

    /// <summary>The status code of GET <paramref name="path"/>, or 0 while the API does not answer.</summary>
    public async Task<int> StatusAsync(string path)
    {
        try
        {
            using HttpResponseMessage response = await _http.GetAsync(new Uri(path, UriKind.Relative));
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>Waits until the API answers (the edge has started), or the process has exited.</summary>
    public Task<bool> WaitUntilServingAsync(TimeSpan limit) => Eventually.TrueAsync(async () =>
    {
        if (Process.HasExited)
        {
            return true;
        }

        try
        {
            await GetJsonAsync("/health");
            return true;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }, limit);

    /// <summary>Waits until <paramref name="condition"/> holds for <c>/stats</c>.</summary>
    public Task<bool> WaitForStatsAsync(Func<JsonElement, bool> condition, TimeSpan limit) =>
        Eventually.TrueAsync(async () => condition(await GetJsonAsync("/stats")), limit);

    /// <summary>Sends a signal (TERM, KILL) with kill(1).</summary>
    public async Task SignalAsync(string signal)
    {
        using Process kill = ChildProcess.Run(new ProcessStartInfo("kill", $"-{signal} {Process.Id}"));
        await kill.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        await Process.WaitForExitAsync(timeout.Token);
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
        _http.Dispose();
    }
}
