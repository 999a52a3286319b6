using System.Net;
using System.Net.Sockets;
using Klais.Grains;
using Klais.Grains.Hosting;
using Klais.Kafka;
using Klais.Silo.Api;
using Klais.Silo.Configuration;
using Klais.Silo.Ingestion;
using Orleans.Dashboard;
using Orleans.Runtime;

namespace Klais.Silo.Hosting;

/// <summary>
/// One klais-silo: an Orleans silo and the ASP.NET Core grain API in one generic host. Starts the embedded dev
/// cluster when no Kafka is configured. Tests start it in process; <see cref="Program"/> runs it until SIGTERM.
/// </summary>
internal sealed class KlaisSilo : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly KafkaDevCluster? _embedded;

    private KlaisSilo(WebApplication app, KafkaDevCluster? embedded, string apiUrl, string bootstrap)
    {
        _app = app;
        _embedded = embedded;
        ApiUrl = apiUrl;
        Bootstrap = bootstrap;
    }

    public string ApiUrl { get; }

    public string Bootstrap { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl-C).</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public static async Task<KlaisSilo> StartAsync(SiloConfig config, Action<IServiceCollection>? configureServices = null)
    {
        KafkaDevCluster? embedded = null;
        string bootstrap;
        if (config.KafkaBootstrap is null)
        {
            embedded = KafkaDevCluster.Start(brokers: 1);
            SiloTopics.CreateOnDevCluster(embedded, config.Partitions);
            bootstrap = embedded.BootstrapServers;
        }
        else
        {
            bootstrap = config.KafkaBootstrap;
            IReadOnlyList<string> problems = SiloTopics.EnsureExist(bootstrap, config.Partitions, TimeSpan.FromSeconds(10));
            if (problems.Count > 0)
            {
                throw new InvalidOperationException(string.Join(" ", problems));
            }
        }

        int siloPort = config.SiloPort == 0 ? FreePort() : config.SiloPort;
        int gatewayPort = config.GatewayPort == 0 ? FreePort() : config.GatewayPort;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders()
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
            .SetMinimumLevel(config.LogLevel)
            .AddFilter("Microsoft", LogLevel.Warning)
            .AddFilter("Polly", LogLevel.Warning)
            .AddFilter("Orleans", config.LogLevel > LogLevel.Warning ? config.LogLevel : LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(config.ApiBind, listen =>
        {
            if (config.ApiCertificate is { } certificate)
            {
                listen.UseHttps(certificate);
            }
        }));
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(new ApiRoles(config.ApiTokens));
        configureServices?.Invoke(builder.Services);
        builder.UseOrleans(silo => silo
            .UseKlaisCluster(config, siloPort, gatewayPort)
            .AddKlaisGrains(config.Consensus, config.Controller)
            .AddKlaisControl(bootstrap)
            .AddKlaisIngestion(config, bootstrap)
            .AddDashboard());

        WebApplication app = builder.Build();
        app.UseApiRoles();
        GrainApi.Map(app);
        app.MapOrleansDashboard("/dashboard");
        try
        {
            await app.StartAsync();
            string bound = app.Urls.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal);
            string apiUrl = config.AdvertisedUrl ?? bound;
            ILocalSiloDetails local = app.Services.GetRequiredService<ILocalSiloDetails>();
            await app.Services.GetRequiredService<IGrainFactory>().GetGrain<ISiloRegistryGrain>(GrainKeys.Fleet)
                .Register(new SiloRegistration(config.SiloId, apiUrl, local.SiloAddress.ToString(), DateTimeOffset.UtcNow));
            return new KlaisSilo(app, embedded, apiUrl, bootstrap);
        }
        catch
        {
            await app.DisposeAsync();
            embedded?.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _embedded?.Dispose();
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
