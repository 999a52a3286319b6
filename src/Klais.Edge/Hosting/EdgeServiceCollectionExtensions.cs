using Klais.Edge.Configuration;
using Klais.Edge.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

internal static class EdgeServiceCollectionExtensions
{
    /// <summary>Registers one edge node, its API, and the hosted services that start them and stop them on SIGTERM.</summary>
    public static IServiceCollection AddKlaisEdge(this IServiceCollection services, EdgeConfig config, TimeProvider time)
    {
        services.TryAddSingleton(time);
        services.AddSingleton(config);
        services.AddSingleton(sp => new EdgeNode(config, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<EdgeApiService>();
        services.AddHostedService(sp => sp.GetRequiredService<EdgeApiService>());
        services.AddHostedService<EdgeNodeService>();
        return services;
    }
}
