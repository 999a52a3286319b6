using Klais.Grains.Runtime;
using Klais.Kafka;
using Klais.Silo.Api;
using Klais.Silo.Configuration;

namespace Klais.Silo;

/// <summary>
/// klais-silo: the grain runtime and the grain API (Kestrel) in one process. Prints <c>listening=&lt;url&gt;</c>
/// (and <c>bootstrap=&lt;servers&gt;</c> with the embedded dev cluster) on stdout once it serves; SIGTERM stops it
/// cleanly (last checkpoint, LeaveGroup). Exit codes: 0 stopped, 1 failed, 2 bad configuration.
/// </summary>
internal static class SiloHost
{
    public static async Task<int> RunAsync(SiloConfig config)
    {
        KafkaDevCluster? embedded = null;
        string bootstrap;
        if (config.KafkaBootstrap is null)
        {
            embedded = KafkaDevCluster.Start(brokers: 1);
            SiloTopics.CreateOnDevCluster(embedded, config.Partitions);
            bootstrap = embedded.BootstrapServers;
            Console.WriteLine("bootstrap=" + bootstrap);
        }
        else
        {
            bootstrap = config.KafkaBootstrap;
            IReadOnlyList<string> problems = SiloTopics.EnsureExist(bootstrap, config.Partitions, replication: -1, TimeSpan.FromSeconds(10));
            if (problems.Count > 0)
            {
                foreach (string problem in problems)
                {
                    await Console.Error.WriteLineAsync("klais-silo: " + problem);
                }

                return 1;
            }
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders()
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
            .SetMinimumLevel(config.LogLevel)
            .AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(config.ApiBind));
        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) });
        await using WebApplication app = builder.Build();
        SiloRuntimeOptions options = config.Runtime with { BootstrapServers = bootstrap };
        using var silo = new SiloRuntime(options, TimeProvider.System, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("klais.silo"));
        GrainApi.Map(app, silo, http);

        await app.StartAsync();
        string bound = app.Urls.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal);
        options.ApiEndpoint = config.AdvertisedUrl ?? bound;
        silo.Start();
        Console.WriteLine("listening=" + bound);
        Console.WriteLine("silo=" + options.SiloId);

        Task finished = await Task.WhenAny(app.WaitForShutdownAsync(), silo.Stopped);
        int code = finished == silo.Stopped && silo.Stopped.IsFaulted ? 1 : 0;
        silo.Dispose();
        await app.StopAsync();
        embedded?.Dispose();
        return code;
    }
}
