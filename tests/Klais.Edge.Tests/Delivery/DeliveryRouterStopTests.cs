using ErrorCode = Confluent.Kafka.ErrorCode;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Klais.Edge.Spill;
using Klais.Kafka;
using Klais.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Klais.Edge.Tests.Delivery;

/// <summary>What reaches the router after its stop has closed the spill: counted lost, never a spin on the caller's thread.</summary>
public sealed class DeliveryRouterStopTests : IDisposable
{
    /// <summary>Far longer than the few microseconds a call takes; a call that spins never returns.</summary>
    private static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(5);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "klais-router-stop-" + Guid.NewGuid().ToString("N"));
    private readonly TelemetryProducer _producer;
    private readonly SpillLog _spill;
    private readonly KafkaCircuit _circuit;

    public DeliveryRouterStopTests()
    {
        Librdkafka.EnsureLoaded();

        // No broker: nothing here is produced, the producer only has to exist.
        _producer = new TelemetryProducer(new KafkaProducerOptions { BootstrapServers = "127.0.0.1:1", Topic = "stop", NodeId = "t" },
            NullLogger<TelemetryProducer>.Instance);
        _spill = new SpillLog(new SpillOptions { Directory = _dir, Fsync = SpillFsync.Never }, new ManualTimeProvider(), NullLogger<SpillLog>.Instance);
        _circuit = new KafkaCircuit(new CircuitOptions(), _producer.Probe, () => _producer.InFlight, new ManualTimeProvider(), NullLogger<KafkaCircuit>.Instance);
    }

    public void Dispose()
    {
        _spill.Dispose();
        _producer.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_record_given_back_after_the_stop_closed_the_spill_while_spilling_is_counted_lost_without_spinning()
    {
        using DeliveryRouter router = SpillingRouter();
        await router.StopAsync(TimeSpan.FromSeconds(1));

        InFlightRecord returned = Returned(sequence: 7);
        Assert.True(RunsToEnd(() => router.OnReturned(returned, ErrorCode.Local_MsgTimedOut, PersistenceStatus.NotPersisted)),
            "OnReturned did not return: it spins on the closed spill");
        Assert.Equal(1, router.Lost);
        Assert.Equal(1, _spill.PendingRecords);   // the backlog, untouched
    }

    [Fact]
    public async Task A_record_from_the_Dam_after_the_stop_closed_the_spill_while_spilling_is_counted_lost_without_spinning()
    {
        using DeliveryRouter router = SpillingRouter();
        await router.StopAsync(TimeSpan.FromSeconds(1));

        bool taken = false;
        Assert.True(RunsToEnd(() => taken = router.TryDeliver(new Admitted("dev-1"u8, 8, "{}"u8, 8))),
            "TryDeliver did not return: it spins on the closed spill");
        Assert.True(taken);
        Assert.Equal(1, router.Lost);
    }

    [Fact]
    public async Task A_record_given_back_after_the_stop_in_direct_delivery_does_not_reopen_the_spill()
    {
        using DeliveryRouter router = new(_producer, _spill, _circuit, new ManualTimeProvider(), NullLogger<DeliveryRouter>.Instance);
        Assert.Equal(DeliveryMode.Direct, router.Mode);
        await router.StopAsync(TimeSpan.FromSeconds(1));

        InFlightRecord returned = Returned(sequence: 9);
        Assert.True(RunsToEnd(() => router.OnReturned(returned, ErrorCode.Local_MsgTimedOut, PersistenceStatus.NotPersisted)));
        Assert.Equal(DeliveryMode.Direct, router.Mode);
        Assert.Equal(0, router.SpillEpisodes);
        Assert.Equal(1, router.Lost);
        Assert.Equal(SpillAppendResult.Closed, _spill.Append(new Admitted("dev-1"u8, 10, "{}"u8, 10)));
    }

    /// <summary>A router that starts spilling: the spill holds a record of an earlier run.</summary>
    private DeliveryRouter SpillingRouter()
    {
        _spill.OpenForAppends();
        Assert.Equal(SpillAppendResult.Appended, _spill.Append(new Admitted("dev-0"u8, 1, "{}"u8, 1)));
        var router = new DeliveryRouter(_producer, _spill, _circuit, new ManualTimeProvider(), NullLogger<DeliveryRouter>.Instance);
        Assert.Equal(DeliveryMode.Spilling, router.Mode);
        return router;
    }

    private static InFlightRecord Returned(uint sequence)
    {
        var record = new InFlightRecord(0);
        record.Fill(new Admitted("dev-1"u8, sequence, "{\"late\":true}"u8, sequence), InFlightRecord.Direct, order: 1);
        return record;
    }

    /// <summary>Runs <paramref name="call"/> on a thread of its own; false when it has not returned within <see cref="CallLimit"/> (the thread is left spinning, in the background).</summary>
    private static bool RunsToEnd(Action call)
    {
        var thread = new Thread(() => call()) { IsBackground = true, Name = "late report" };
        thread.Start();
        return thread.Join(CallLimit);
    }
}
