using Klais.Kafka;
using Klais.Silo.Configuration;
using Klais.Silo.Hosting;

namespace Klais.Grains.Tests.Silo;

/// <summary>One klais-silo in the test process (development mode) read from settings as the program reads them.</summary>
internal static class InProcessSilo
{
    /// <summary>Starts a silo on <paramref name="cluster"/> with free ports and <paramref name="settings"/> on top.</summary>
    public static async Task<KlaisSilo> StartAsync(KafkaDevCluster cluster, params (string Name, string Value)[] settings)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["KLAIS_KAFKA_BOOTSTRAP"] = cluster.BootstrapServers,
            ["KLAIS_SILO_API_BIND"] = "127.0.0.1:0",
            ["KLAIS_SILO_PORT"] = "0",
            ["KLAIS_SILO_GATEWAY_PORT"] = "0",
            ["KLAIS_LOG_LEVEL"] = "warning",
        };
        foreach ((string name, string value) in settings)
        {
            env[name] = value;
        }

        SiloConfigResult loaded = SiloConfigLoader.Load([], name => env.GetValueOrDefault(name));
        Assert.Empty(loaded.Errors);
        return await KlaisSilo.StartAsync(loaded.Config!);
    }
}
