using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>A whole edge host in the test process: real UDP socket, real HTTP, real Kafka protocol to a dev cluster.</summary>
internal sealed class EdgeHarness : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly Socket _sender;
    private Task? _stop;

    private EdgeHarness(IHost host)
    {
        _host = host;
        Node = new EdgeComponents(host.Services);
        Http = new HttpClient { BaseAddress = new Uri($"http://{host.Services.GetRequiredService<EdgeApiService>().LocalEndPoint}/") };
        _sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _sender.Connect(Node.Receiver.LocalEndPoint);
    }

    public EdgeComponents Node { get; }

    public HttpClient Http { get; }

    public static EdgeConfig Config(string bootstrap, string topic, params (string Name, string Value)[] overrides)
    {
        var env = new Dictionary<string, string>
        {
            ["KLAIS_UDP_BIND"] = "127.0.0.1:0",
            ["KLAIS_API_BIND"] = "127.0.0.1:0",
            ["KLAIS_KAFKA_BOOTSTRAP"] = bootstrap,
            ["KLAIS_KAFKA_TOPIC"] = topic,
            ["KLAIS_NODE_ID"] = "edge-test",
            ["KLAIS_CONTROL"] = "off", // the control-plane tests (Control/) turn it on
            ["KLAIS_RECEIVE_THREADS"] = "2",
            ["KLAIS_LOG_LEVEL"] = "warn",
        };
        foreach ((string name, string value) in overrides)
        {
            env[name] = value;
        }

        EdgeConfigResult result = EdgeConfigLoader.Load([], n => env.GetValueOrDefault(n));
        return result.Config ?? throw new InvalidOperationException(string.Join("; ", result.Errors));
    }

    /// <summary>
    /// Starts an edge; <paramref name="time"/> is the node's clock (the system's when null); <paramref name="services"/>
    /// adds a test's own services after the edge's.
    /// </summary>
    public static async Task<EdgeHarness> StartAsync(EdgeConfig config, TimeProvider? time = null, Action<IServiceCollection>? services = null)
    {
        IHost host = Program.Build(config, time, services);
        await host.StartAsync();
        return new EdgeHarness(host);
    }

    public void Send(ReadOnlySpan<byte> datagram) => _sender.Send(datagram);

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        response.EnsureSuccessStatusCode();
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    /// <summary>Waits (bounded) until the condition holds; real sockets and Kafka acknowledge in their own time.</summary>
    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Stops the host as SIGTERM does (once, however often it is called).</summary>
    public Task StopAsync() => _stop ??= _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        _sender.Dispose();
        Http.Dispose();
        await StopAsync();
        _host.Dispose();
    }
}
