using Klais.Edge.Control;
using Klais.Edge.Hosting;
using Klais.Edge.Receive;
using Klais.Edge.Tests.EndToEnd;
using Klais.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Klais.Edge.Tests.Hosting;

/// <summary>The edge's host as the process builds it (docs/design/edge-composition.md), looked at before it starts.</summary>
public sealed class EdgeCompositionTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;

    public EdgeCompositionTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public void Hosted_services_are_registered_in_start_order_with_the_receive_threads_first_so_their_sockets_are_bound_before_the_rest_is_built()
    {
        using IHost host = Program.Build(EdgeHarness.Config(_cluster.BootstrapServers, "composition", ("KLAIS_CONTROL", "on")));

        Type[] order = [.. host.Services.GetServices<IHostedService>().Select(s => s.GetType())];

        Assert.Equal(
            [typeof(ReceiveService), typeof(EdgeStateService), typeof(DeliveryService), typeof(DamService), typeof(ControlService), typeof(EdgeApiService)],
            order);
        Assert.NotEqual(0, host.Services.GetRequiredService<UdpReceiver>().LocalEndPoint.Port); // bound, though nothing has started
        Assert.False(host.Services.GetRequiredService<EdgeLifetime>().IsReady);
    }

    [Fact]
    public void An_edge_with_control_off_has_no_control_side_to_start_or_read()
    {
        using IHost host = Program.Build(EdgeHarness.Config(_cluster.BootstrapServers, "composition"));

        Assert.DoesNotContain(host.Services.GetServices<IHostedService>(), s => s is ControlService);
        Assert.Null(host.Services.GetService<EdgeControl>());
        Assert.Null(host.Services.GetService<ControlApplier>());
        Assert.Null(host.Services.GetService<DeviceActivity>());
    }
}
