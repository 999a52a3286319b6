using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Klais.Client;

/// <summary>
/// An Orleans client of a KLAIS cluster, for integrations inside the cluster's network: it finds the silos' gateways
/// in the Redis membership table the silos write (<c>KLAIS_REDIS</c>, <c>KLAIS_CLUSTER_ID</c>, <c>KLAIS_SERVICE_ID</c>) and
/// calls the grain interfaces of <c>Klais.Grains.Abstractions</c> directly (<see cref="Grains"/>), with no HTTP in between.
/// </summary>
public sealed class KlaisCluster : IAsyncDisposable
{
    private readonly IHost _host;

    private KlaisCluster(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public IGrainFactory Grains => Client;

    /// <summary>Connects to the cluster whose membership is in Redis at <paramref name="redis"/> (a StackExchange.Redis configuration string).</summary>
    public static async Task<KlaisCluster> ConnectAsync(string redis, string clusterId = "klais", string serviceId = "klais", CancellationToken cancel = default)
    {
        IHost host = Host.CreateDefaultBuilder()
            .UseOrleansClient(client => client
                .UseRedisClustering(o =>
                {
                    ConfigurationOptions options = ConfigurationOptions.Parse(redis);
                    options.AbortOnConnectFail = false;
                    o.ConfigurationOptions = options;
                })
                .Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = serviceId;
                }))
            .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning))
            .Build();
        try
        {
            await host.StartAsync(cancel);
            return new KlaisCluster(host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
