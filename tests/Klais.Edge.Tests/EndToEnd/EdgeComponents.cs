using Klais.Edge.Api;
using Klais.Edge.Configuration;
using Klais.Edge.Control;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Devices;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Edge.Pipeline;
using Klais.Edge.Receive;
using Klais.Edge.Spill;
using Klais.Edge.Xdp;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.Edge.Tests.EndToEnd;

/// <summary>
/// A running edge's components as its host built them, for tests to look at. Read-only, and only tests use it:
/// product code gets its dependencies by constructor.
/// </summary>
internal sealed class EdgeComponents(IServiceProvider services)
{
    public EdgeConfig Config => Get<EdgeConfig>();

    public UdpReceiver Receiver => Get<UdpReceiver>();

    public EdgePipeline Pipeline => Get<EdgePipeline>();

    public Klais.Edge.Dam.Dam Dam => Get<Klais.Edge.Dam.Dam>();

    public DedupeTable Dedupe => Get<DedupeTable>();

    public DevicePolicy Devices => Get<DevicePolicy>();

    public EdgeXdp Xdp => Get<EdgeXdp>();

    public TelemetryProducer Producer => Get<TelemetryProducer>();

    public KafkaCircuit Circuit => Get<KafkaCircuit>();

    public DeliveryRouter Router => Get<DeliveryRouter>();

    public SpillLog Spill => Get<SpillLog>();

    /// <summary>Null when the edge has no control side (<c>KLAIS_CONTROL=off</c>).</summary>
    public EdgeControl? Control => services.GetService<EdgeControl>();

    public EdgeDegradation Degradation => Get<EdgeHealth>().Degradation;

    public long ReceivingSince => Get<EdgeLifetime>().ReceivingSince;

    public EdgeMetrics Metrics => Get<EdgeMetrics>();

    public EdgeStatsWriter Stats => Get<EdgeStatsWriter>();

    public PrometheusText Prometheus => Get<PrometheusText>();

    private T Get<T>()
        where T : notnull => services.GetRequiredService<T>();
}
