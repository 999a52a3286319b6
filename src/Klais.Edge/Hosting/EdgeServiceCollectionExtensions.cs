using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Devices;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Spill;
using Klais.Edge.Xdp;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an edge's components and the hosted services that start and stop them (docs/design/edge-composition.md).</summary>
internal static class EdgeServiceCollectionExtensions
{
    /// <summary>
    /// Key of the clock of the circuit breaker, the spill's fsync timer and checkpoint pacing, and the router: the
    /// edge's <see cref="TimeProvider"/> unless a test registers a manual one under this key first.
    /// </summary>
    public const string DeliveryClock = "klais.edge.delivery-clock";

    /// <summary>
    /// The edge: every component once, each given what it uses, and the hosted services in start order. The host
    /// starts them in registration order and stops them in reverse: the receive threads last and first
    /// (<see cref="ReceiveService"/>), around the dedupe state, delivery, the Dam's drainer and klais.control.
    /// <paramref name="time"/> is the edge's clock unless one is registered already.
    /// </summary>
    public static EdgeBuilder AddKlaisEdge(this IServiceCollection services, EdgeConfig config, TimeProvider time)
    {
        services.TryAddSingleton(config);
        services.TryAddSingleton(time);
        services.TryAddKeyedSingleton(DeliveryClock, static (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.TryAddSingleton<EdgeLifetime>();

        services.TryAddSingleton(_ => EdgeComponentOptions.Receive(config));
        services.TryAddSingleton(sp => EdgeComponentOptions.Kafka(config, sp.GetRequiredService<KafkaEndpoint>()));
        services.TryAddSingleton(sp => EdgeComponentOptions.Spill(config, sp.GetRequiredService<SpillDirectory>()));
        services.TryAddSingleton(_ => EdgeComponentOptions.Circuit(config));
        services.TryAddSingleton(_ => EdgeComponentOptions.Dedupe(config));
        services.TryAddSingleton(_ => EdgeComponentOptions.Dam(config));

        services.TryAddSingleton(sp => new UdpReceiver(sp.GetRequiredService<ReceiveOptions>()));
        services.TryAddSingleton<KafkaEndpoint>();
        services.TryAddSingleton(sp => new TelemetryProducer(sp.GetRequiredService<KafkaProducerOptions>(), sp.GetRequiredService<ILogger<TelemetryProducer>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<SpillDirectory>();
        services.TryAddSingleton(sp => new SpillLog(sp.GetRequiredService<SpillOptions>(), DeliveryTime(sp), sp.GetRequiredService<ILogger<SpillLog>>()));
        services.TryAddSingleton(sp =>
        {
            TelemetryProducer producer = sp.GetRequiredService<TelemetryProducer>();
            return new KafkaCircuit(sp.GetRequiredService<CircuitOptions>(), producer.Probe, () => producer.InFlight, DeliveryTime(sp),
                sp.GetRequiredService<ILogger<KafkaCircuit>>());
        });
        services.TryAddSingleton(sp => new DeliveryRouter(sp.GetRequiredService<TelemetryProducer>(), sp.GetRequiredService<SpillLog>(),
            sp.GetRequiredService<KafkaCircuit>(), DeliveryTime(sp), sp.GetRequiredService<ILogger<DeliveryRouter>>()));
        services.TryAddSingleton<DedupeTable>();
        services.TryAddSingleton(sp => new Dam(sp.GetRequiredService<DamOptions>(), sp.GetRequiredService<DeliveryRouter>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<DevicePolicy>();
        services.TryAddSingleton(sp => EdgeXdp.Start(config, sp.GetRequiredService<DevicePolicy>(), sp.GetRequiredService<ILogger<EdgeXdp>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new EdgePipeline(sp.GetRequiredService<Dam>(), config.MaxPayloadBytes, config.ValidateJson, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<DedupeTable>(), sp.GetRequiredService<DevicePolicy>(), sp.GetService<DeviceActivity>(),
            sp.GetRequiredService<TelemetryProducer>().BeginReceiveBatch, sp.GetRequiredService<TelemetryProducer>().EndReceiveBatch));
        services.TryAddSingleton<EdgeHealth>();
        if (EdgeControl.IsEnabled(config))
        {
            AddControl(services, config);
        }

        services.TryAddSingleton<EdgeMetrics>();
        services.TryAddSingleton<EdgeStatsWriter>();
        services.TryAddSingleton<PrometheusText>();

        // Registered first, so built first: the sockets are bound, and the kernel filter attached for their port,
        // before anything else is built (Kafka, the spill's recovery): from here the kernel holds what devices send.
        services.AddHostedService(sp =>
        {
            EdgeLifetime lifetime = sp.GetRequiredService<EdgeLifetime>(); // the uptime counts from here
            UdpReceiver receiver = sp.GetRequiredService<UdpReceiver>();
            sp.GetRequiredService<EdgeXdp>();
            return new ReceiveService(receiver, sp.GetRequiredService<EdgePipeline>(), lifetime, config, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<ReceiveService>>());
        });
        services.AddHostedService<EdgeStateService>();
        services.AddHostedService<DeliveryService>();
        services.AddHostedService<DamService>();
        if (EdgeControl.IsEnabled(config))
        {
            services.AddHostedService<ControlService>();
        }

        return new EdgeBuilder(services);
    }

    /// <summary>The control side: per-device activity (recorded by the pipeline), the applier of klais.control, the follower and reporter.</summary>
    private static void AddControl(IServiceCollection services, EdgeConfig config)
    {
        services.TryAddSingleton(sp => EdgeControl.NewActivity(config, sp.GetRequiredService<Dam>()));
        services.TryAddSingleton(sp => EdgeControl.NewApplier(config, sp.GetRequiredService<Dam>(), sp.GetRequiredService<DevicePolicy>(),
            sp.GetRequiredService<DeviceActivity>(), sp.GetRequiredService<TelemetryProducer>().AdviseLinger, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<EdgeControl>>()));
        services.TryAddSingleton(sp =>
        {
            TelemetryProducer producer = sp.GetRequiredService<TelemetryProducer>();
            return new EdgeControl(config, sp.GetRequiredService<KafkaEndpoint>().Bootstrap, sp.GetRequiredService<ControlApplier>(),
                sp.GetRequiredService<DeviceActivity>(), sp.GetRequiredService<DevicePolicy>(), sp.GetRequiredService<Dam>(), sp.GetRequiredService<KafkaCircuit>(),
                () => producer.InFlight, sp.GetRequiredService<EdgeHealth>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EdgeControl>>());
        });
    }

    private static TimeProvider DeliveryTime(IServiceProvider sp) => sp.GetRequiredKeyedService<TimeProvider>(DeliveryClock);
}

/// <summary>What <see cref="EdgeServiceCollectionExtensions.AddKlaisEdge"/> returns: the edge's services, and the parts a host may add.</summary>
internal sealed class EdgeBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>The HTTP API (docs/edge.md): it serves from before the edge's start to after its stop (<see cref="EdgeApiService"/>).</summary>
    public EdgeBuilder AddHttpApi()
    {
        Services.TryAddSingleton<EdgeApi>();
        Services.TryAddSingleton<EdgeApiService>();
        Services.AddHostedService(sp => sp.GetRequiredService<EdgeApiService>());
        return this;
    }
}
