using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Kafka;
using Klais.Silo.Configuration;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Klais.Grains.Tests.Silo;

/// <summary>The ingestor's batches against a backlog on librdkafka's mock cluster, one in-process silo (development mode).</summary>
public sealed class IngestionBatchTests
{
    [Fact]
    public async Task A_backlog_of_many_devices_is_taken_in_batches_of_at_most_the_device_bound_and_every_report_counts_once()
    {
        const int Devices = 40, Rounds = 3, Bound = 8;
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);

        // The backlog is there before the silo starts, so a batch could take all of it but for the device bound.
        using (var edge = new ReportPublisher(cluster.BootstrapServers, "edge-1"))
        {
            for (int round = 0; round < Rounds; round++)
            {
                for (int d = 0; d < Devices; d++)
                {
                    edge.PublishDevice(new DeviceReport { DeviceId = Id(d), WindowMs = 1000, Packets = 7, Bytes = 420 });
                }
            }

            edge.Flush(TimeSpan.FromSeconds(30));
        }

        await using KlaisSilo silo = await KlaisSilo.StartAsync(new SiloConfig
        {
            SiloId = "s-batch",
            KafkaBootstrap = cluster.BootstrapServers,
            ApiBind = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            SiloPort = 0,
            GatewayPort = 0,
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            Ingestion = new IngestionOptions { MaxBatchDevices = Bound, MaxWait = TimeSpan.FromMilliseconds(500) },
        });
        IngestionStatus status = silo.Services.GetRequiredService<IngestionStatus>();
        Assert.True(await Eventually.TrueAsync(() => status.AppliedReports == Devices * Rounds && status.UncommittedBatches == 0, TimeSpan.FromSeconds(60)),
            $"applied {status.AppliedReports} of {Devices * Rounds}, {status.UncommittedBatches} batches uncommitted");

        // 120 records of 40 devices in one partition, device after device: at most 8 devices a batch is at least 15 batches.
        Assert.True(status.BatchesHandled >= Devices * Rounds / Bound, $"{status.BatchesHandled} batches");
        Assert.Equal(Devices * Rounds, status.ConsumedRecords);
        IGrainFactory grains = silo.Services.GetRequiredService<IGrainFactory>();
        for (int d = 0; d < Devices; d++)
        {
            DeviceSnapshot? seen = await grains.GetGrain<IDeviceGrain>(Id(d)).Describe();
            Assert.Equal(7UL * Rounds, seen?.Packets);
        }
    }

    private static string Id(int d) => "batch-" + d.ToString(CultureInfo.InvariantCulture);
}
