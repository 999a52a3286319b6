using System.Net.Sockets;
using System.Text;
using Klais.Edge.Configuration;
using Klais.Edge.Tests.EndToEnd;
using Klais.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Tests.Delivery;

/// <summary>
/// An edge host without the HTTP layer: real UDP socket, real Kafka protocol to a dev cluster, and a manual clock
/// for the circuit breaker, the spill's fsync timer and checkpoint pacing.
/// </summary>
internal sealed class NodeHarness : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly Socket _sender;

    private NodeHarness(IHost host, ManualTimeProvider clock)
    {
        _host = host;
        Node = new EdgeComponents(host.Services);
        Clock = clock;
        _sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _sender.Connect(Node.Receiver.LocalEndPoint);
    }

    public EdgeComponents Node { get; }

    public ManualTimeProvider Clock { get; }

    /// <summary>Settings for a test edge; <paramref name="overrides"/> are environment names and values.</summary>
    public static EdgeConfig Config(string bootstrap, string topic, string spillDirectory, params (string Name, string Value)[] overrides)
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
            ["KLAIS_DAM_MAX_RATE"] = "1000000",
            ["KLAIS_DAM_BURST_SIZE"] = "1000000",
            ["KLAIS_SPILL_DIR"] = spillDirectory,
            ["KLAIS_BREAKER_WINDOW_MS"] = "1000",
            ["KLAIS_BREAKER_BREAK_MS"] = "1000",
            ["KLAIS_BREAKER_STALL_MS"] = "500",
            ["KLAIS_DEDUPE_MAX_DEVICES"] = "4096",
        };
        foreach ((string name, string value) in overrides)
        {
            env[name] = value;
        }

        EdgeConfigResult result = EdgeConfigLoader.Load([], n => env.GetValueOrDefault(n));
        return result.Config ?? throw new InvalidOperationException(string.Join("; ", result.Errors));
    }

    public static NodeHarness Start(EdgeConfig config)
    {
        var clock = new ManualTimeProvider();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Services.AddKeyedSingleton<TimeProvider>(EdgeServiceCollectionExtensions.DeliveryClock, clock);
        builder.Services.AddKlaisEdge(config, TimeProvider.System);
        IHost host = builder.Build();
        host.StartAsync().GetAwaiter().GetResult();
        return new NodeHarness(host, clock);
    }

    public static byte[] Datagram(string device, uint sequence, string payload)
    {
        byte[] buffer = new byte[Contracts.Wire.Datagram.HeaderLength + Encoding.UTF8.GetByteCount(payload)];
        Contracts.Wire.Datagram.Write(buffer, Encoding.UTF8.GetBytes(device), sequence, Encoding.UTF8.GetBytes(payload));
        return buffer;
    }

    public void Send(ReadOnlySpan<byte> datagram) => _sender.Send(datagram);

    /// <summary>
    /// Moves the manual clock one breaker sample at a time until <paramref name="condition"/> holds (bounded by
    /// <paramref name="limit"/> of fake time). <paramref name="realPause"/> lets real time pass between steps where
    /// Kafka must do real work (reconnecting, acknowledging), so the fake clock does not outrun it.
    /// </summary>
    public async Task<bool> AdvanceUntilAsync(Func<bool> condition, TimeSpan limit, TimeSpan realPause = default)
    {
        TimeSpan step = Node.Circuit.Options.SampleInterval;
        for (TimeSpan moved = TimeSpan.Zero; moved <= limit; moved += step)
        {
            if (condition())
            {
                return true;
            }

            long ticks = Node.Circuit.Ticks;
            Clock.Advance(step);

            // The monitor runs on the thread pool once its delay fires: wait (bounded) until it has sampled.
            await WaitForAsync(() => Node.Circuit.Ticks > ticks, TimeSpan.FromSeconds(10));
            if (realPause > TimeSpan.Zero && !condition())
            {
                await Task.Delay(realPause);
            }
        }

        return condition();
    }

    /// <summary>Waits (bounded, real time) for something the real socket or Kafka does in its own time.</summary>
    public static Task<bool> WaitForAsync(Func<bool> condition, TimeSpan limit) => Eventually.TrueAsync(condition, limit);

    public async ValueTask DisposeAsync()
    {
        _sender.Dispose();
        await _host.StopAsync();
        _host.Dispose();
    }
}
