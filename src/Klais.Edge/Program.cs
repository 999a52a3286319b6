using System.Net.Sockets;
using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Klais.Edge.Xdp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Klais.Edge;

internal static class Program
{
    public const int ExitBadConfiguration = 2;
    public const int ExitStartFailed = 1;

    public static async Task<int> Main(string[] args)
    {
        EdgeConfigResult loaded = EdgeConfigLoader.Load(args, Environment.GetEnvironmentVariable);
        if (loaded.HelpRequested)
        {
            Console.WriteLine(EdgeConfigLoader.HelpText());
            return 0;
        }

        if (loaded.Config is null)
        {
            await Console.Error.WriteLineAsync($"klais-edge: {loaded.Errors.Count} configuration problem(s); nothing was started:").ConfigureAwait(false);
            foreach (string error in loaded.Errors)
            {
                await Console.Error.WriteLineAsync("  - " + error).ConfigureAwait(false);
            }

            return ExitBadConfiguration;
        }

        try
        {
            using IHost host = Build(loaded.Config);
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (XdpStartException e)
        {
            await Console.Error.WriteLineAsync("klais-edge: " + e.Message).ConfigureAwait(false);
            return ExitBadConfiguration;
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or DllNotFoundException)
        {
            await Console.Error.WriteLineAsync("klais-edge: could not start: " + e.Message).ConfigureAwait(false);
            return ExitStartFailed;
        }
    }

    /// <summary>Builds the edge's host: its components, the hosted services that start and stop them, and its API; tests call this too.</summary>
    /// <param name="config">Validated settings.</param>
    /// <param name="time">The edge's clock; the system's when null.</param>
    /// <param name="services">Tests add services of their own here, after the edge's.</param>
    internal static IHost Build(EdgeConfig config, TimeProvider? time = null, Action<IServiceCollection>? services = null)
    {
        // The empty builder: hosting, logging and SIGTERM handling only. No configuration files, no file watchers:
        // the edge's settings come from EdgeConfig, and every assembly left out is memory an idle edge does not hold.
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(config.LogLevel);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", config.LogLevel > LogLevel.Warning ? config.LogLevel : LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.ShutdownTimeout + TimeSpan.FromSeconds(5));
        builder.Services.AddKlaisEdge(config, time ?? TimeProvider.System).AddHttpApi();
        services?.Invoke(builder.Services);
        return builder.Build();
    }
}
