using Klais.Silo.Ingestion;

namespace Klais.Grains.Tests.Silo;

[Trait("Category", "Unit")]
public sealed class SiloAggregatorTests
{
    private static DeviceObservation Report(string edge, ulong packets) =>
        new() { SourceId = edge, Sequence = 1, WindowMs = 1000, Packets = packets, Bytes = packets * 10 };

    [Fact]
    public void The_busiest_devices_sum_each_devices_latest_rate_over_its_edges()
    {
        var aggregator = new SiloAggregator();
        aggregator.Add("a", Report("edge-1", 5));
        aggregator.Add("a", Report("edge-1", 7)); // the latest report of a device at an edge counts, once
        aggregator.Add("a", Report("edge-2", 4));
        aggregator.Add("b", Report("edge-1", 20));
        aggregator.Add("c", Report("edge-2", 1));

        SiloAggregate aggregate = aggregator.Take("s1", 1_000, 1_000);

        Assert.Equal(32, aggregate.PacketsPerSecond);
        Assert.Equal(3, aggregate.ActiveDevices);
        Assert.Equal(["b", "a", "c"], aggregator.Busiest.Select(d => d.DeviceId));
        Assert.Equal(11, aggregator.Busiest[1].PacketsPerSecond);
        Assert.Equal(110, aggregator.Busiest[1].BytesPerSecond);
        aggregator.Take("s1", 2_000, 1_000);
        Assert.Empty(aggregator.Busiest);
    }
}
