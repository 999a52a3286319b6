using System.Net.Sockets;
using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
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
            await using WebApplication app = Build(loaded.Config);
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or DllNotFoundException)
        {
            await Console.Error.WriteLineAsync("klais-edge: could not start: " + e.Message).ConfigureAwait(false);
            return ExitStartFailed;
        }
    }

    /// <summary>Builds the edge's web host around one <see cref="EdgeNode"/>; tests call this too.</summary>
    internal static WebApplication Build(EdgeConfig config, TimeProvider? time = null)
    {
        // No args: our flags are parsed above; the host must not reinterpret them as its own configuration.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(config.LogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", config.LogLevel > LogLevel.Warning ? config.LogLevel : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", config.LogLevel > LogLevel.Warning ? config.LogLevel : LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(config.ApiBind));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.ShutdownTimeout + TimeSpan.FromSeconds(5));
        builder.Services.AddKlaisEdge(config, time ?? TimeProvider.System);

        WebApplication app = builder.Build();
        EdgeApi.Map(app, app.Services.GetRequiredService<EdgeNode>());
        return app;
    }
}
