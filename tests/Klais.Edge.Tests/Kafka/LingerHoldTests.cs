using ErrorCode = Confluent.Kafka.ErrorCode;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Klais.Edge.Dam;
using Klais.Edge.Hosting;
using Klais.Edge.Kafka;
using Klais.Kafka;
using Klais.Testing;
using Microsoft.Extensions.Logging;

namespace Klais.Edge.Tests.Kafka;

/// <summary>
/// The producer's hold for linger advice (<see cref="TelemetryProducer.AdviseLinger"/>) against librdkafka's mock cluster:
/// fewer produce requests, nothing lost or reordered, held records counted in flight and given back on purge.
/// </summary>
public sealed class LingerHoldTests : IDisposable
{
    private const string Topic = "held";
    private const int ConfiguredLingerMs = 1;
    private const int Devices = 7;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly KafkaDevCluster _cluster = KafkaDevCluster.Start(brokers: 1);
    private readonly ManualTimeProvider _clock = new();
    private readonly StatisticsLogger _statistics = new();

    public LingerHoldTests() => _cluster.CreateTopic(Topic, partitions: 3);

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Advice_of_50_ms_sends_fewer_produce_requests_per_record_and_every_record_once_in_device_order()
    {
        const int count = 200;
        double without;
        using (TelemetryProducer producer = Producer())
        {
            await ArriveEvery2Ms(producer, 0, count);
            without = await ProduceRequests(producer, count) / (double)count;
        }

        double with;
        _statistics.Clear();   // the first producer is gone: what comes now is the second's
        using (TelemetryProducer producer = Producer())
        {
            producer.AdviseLinger(50);
            Assert.Equal(50, producer.LingerMs);
            await ArriveEvery2Ms(producer, count, count);
            Assert.True(producer.Flush(Wait));
            with = await ProduceRequests(producer, count) / (double)count;
        }

        // Without the hold every record arrives after librdkafka has sent the one before: about one request each.
        // With it, records 2 ms apart gather for 49 ms: about one request per 25.
        Assert.True(without > 0.5, $"without the hold: {without:0.000} produce requests per record");
        Assert.True(with < without / 5, $"with the hold: {with:0.000} produce requests per record, without: {without:0.000}");
        AssertEachOnceInDeviceOrder(ReadTopic(), 2 * count);
    }

    [Fact]
    public async Task Switching_the_hold_off_mid_stream_sends_the_held_records_before_the_new_ones()
    {
        using TelemetryProducer producer = Producer();
        producer.AdviseLinger(50);
        Deliver(producer, 0, 100);
        _clock.Advance(TimeSpan.FromMilliseconds(49));       // the first 100 leave at the tick
        Deliver(producer, 100, 50);
        Assert.Equal(50, producer.Held);

        producer.AdviseLinger(0);
        Assert.Equal((0, ConfiguredLingerMs), (producer.Held, producer.LingerMs));
        Deliver(producer, 150, 50);                           // direct again
        Assert.Equal(0, producer.Held);
        producer.AdviseLinger(20);
        Deliver(producer, 200, 50);
        Assert.Equal(50, producer.Held);
        producer.AdviseLinger(0);
        Deliver(producer, 250, 50);

        Assert.True(producer.Flush(Wait));
        Assert.True(await Eventually.TrueAsync(() => producer.Delivered == 300, Wait));
        AssertEachOnceInDeviceOrder(ReadTopic(), 300);
    }

    [Fact]
    public void Held_records_count_as_in_flight_and_the_cap_holds()
    {
        using TelemetryProducer producer = Producer(o => o.MaxInFlightMessages = 10);
        producer.AdviseLinger(50);

        bool[] taken = Enumerable.Range(0, 12).Select(i => producer.TryDeliver(Record(i))).ToArray();

        Assert.Equal([.. Enumerable.Repeat(true, 10), false, false], taken);
        Assert.Equal((10, 10L, 0L), (producer.Held, producer.InFlight, producer.Delivered));
        _clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.Equal(0, producer.Held);
        Assert.True(producer.Flush(Wait));
        Assert.Equal(10, producer.Delivered);
    }

    [Fact]
    public void Held_bytes_reaching_the_batch_size_go_out_before_the_tick()
    {
        // Records of Record(i) are 5 + 8 = 13 bytes; a 60-byte batch goes out at the fifth.
        using TelemetryProducer producer = Producer(o => o.BatchSizeBytes = 60);
        producer.AdviseLinger(50);

        Deliver(producer, 0, 4);
        Assert.Equal(4, producer.Held);
        Deliver(producer, 4, 1);
        Assert.Equal(0, producer.Held);
        Assert.True(producer.Flush(Wait));
        Assert.Equal(5, producer.Delivered);
    }

    [Fact]
    public void Flush_sends_the_held_records_without_waiting_for_the_tick()
    {
        using TelemetryProducer producer = Producer();
        producer.AdviseLinger(50);
        Deliver(producer, 0, 20);

        Assert.True(producer.Flush(Wait));
        Assert.Equal((20L, 0), (producer.Delivered, producer.Held));
        AssertEachOnceInDeviceOrder(ReadTopic(), 20);
    }

    [Fact]
    public async Task Purge_gives_held_records_back_to_the_observer_with_the_rest_each_once_in_produce_order()
    {
        using TelemetryProducer producer = Producer();
        var observer = new Observer();
        producer.Observer = observer;
        Assert.True(producer.Probe(TimeSpan.FromSeconds(10), out string problem), problem);
        _cluster.SetAllBrokersDown();
        Deliver(producer, 0, 20);                              // in librdkafka
        producer.AdviseLinger(50);
        Deliver(producer, 20, 30);                             // held
        Assert.Equal(30, producer.Held);

        producer.Purge(inFlight: true);
        Assert.True(await Eventually.TrueAsync(() => producer.InFlight == 0, Wait));

        Assert.Equal(0, producer.Held);
        Assert.Equal(50, producer.Returned);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (uint)i), observer.Returned.OrderBy(r => r.Order).Select(r => r.Sequence));
        Assert.All(observer.Returned.Where(r => r.Sequence >= 20), r => Assert.Equal(ErrorCode.Local_PurgeQueue, r.Code));

        _cluster.SetAllBrokersUp();
        _clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.True(producer.Flush(Wait));
        Assert.Equal(0, producer.Delivered);
        Assert.Equal(50, observer.Returned.Count);
    }

    /// <summary>
    /// One record per 2 ms of the manual clock (the hold's clock); between records, waits until librdkafka has
    /// delivered everything handed to it, as real records 2 ms apart would give it time to.
    /// </summary>
    private async Task ArriveEvery2Ms(TelemetryProducer producer, int first, int count)
    {
        long deliveredBefore = producer.Delivered;
        for (int i = 0; i < count; i++)
        {
            Assert.True(producer.TryDeliver(Record(first + i)));
            _clock.Advance(TimeSpan.FromMilliseconds(2));
            long handed = i + 1 - producer.Held;
            Assert.True(await Eventually.TrueAsync(() => producer.Delivered - deliveredBefore == handed, Wait), $"record {i}: {producer.Delivered - deliveredBefore} of {handed} delivered");
        }
    }

    /// <summary>Produce requests librdkafka sent, from its statistics once they show every record transmitted.</summary>
    private async Task<long> ProduceRequests(TelemetryProducer producer, int records)
    {
        JsonElement? last = null;
        Assert.True(await Eventually.TrueAsync(() => (last = _statistics.Latest) is { } s && s.GetProperty("txmsgs").GetInt64() >= records, Wait), "statistics never showed every record sent");
        long requests = 0;
        foreach (JsonProperty broker in last!.Value.GetProperty("brokers").EnumerateObject())
        {
            requests += broker.Value.GetProperty("req").GetProperty("Produce").GetInt64();
        }

        return requests;
    }

    private IReadOnlyList<TopicRecord> ReadTopic() => TopicReader.ReadToEnd(_cluster.BootstrapServers, Topic, Wait);

    private static void AssertEachOnceInDeviceOrder(IReadOnlyList<TopicRecord> records, int count)
    {
        uint[] sequences = records.Select(r => BinaryPrimitives.ReadUInt32BigEndian(r.Header("seq"))).ToArray();
        Assert.Equal(Enumerable.Range(0, count).Select(i => (uint)i), sequences.Order());
        foreach (IGrouping<string, TopicRecord> device in records.GroupBy(r => Encoding.ASCII.GetString(r.Key!)))
        {
            uint[] inOffsetOrder = device.OrderBy(r => r.Offset).Select(r => BinaryPrimitives.ReadUInt32BigEndian(r.Header("seq"))).ToArray();
            Assert.Equal(inOffsetOrder.Order(), inOffsetOrder);
        }
    }

    private static void Deliver(TelemetryProducer producer, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            Assert.True(producer.TryDeliver(Record(i)));
        }
    }

    /// <summary>Record i: device dev-(i mod 7), sequence i, 5 + 8 = 13 bytes.</summary>
    private static Admitted Record(int i) => new(Encoding.ASCII.GetBytes($"dev-{i % Devices}"), (uint)i, "{\"v\":12}"u8, i);

    private TelemetryProducer Producer(Action<KafkaProducerOptions>? configure = null)
    {
        var options = new KafkaProducerOptions
        {
            BootstrapServers = _cluster.BootstrapServers, Topic = Topic, NodeId = "edge-h", LingerMs = ConfiguredLingerMs, StatisticsIntervalMs = 100,
        };
        configure?.Invoke(options);
        return new TelemetryProducer(options, _statistics, _clock);
    }

    /// <summary>Keeps the latest librdkafka statistics JSON (the producer logs it at Debug).</summary>
    private sealed class StatisticsLogger : ILogger<TelemetryProducer>
    {
        private readonly Lock _gate = new();
        private JsonElement? _latest;

        public JsonElement? Latest
        {
            get
            {
                lock (_gate)
                {
                    return _latest;
                }
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _latest = null;
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != EventIds.KafkaStatistics || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                return;
            }

            JsonElement json = JsonDocument.Parse((string)fields.First(f => f.Key == "Json").Value!).RootElement.Clone();
            lock (_gate)
            {
                _latest = json;
            }
        }
    }

    private sealed class Observer : IDeliveryObserver
    {
        private readonly List<(uint Sequence, long Order, ErrorCode Code)> _returned = [];

        public IReadOnlyList<(uint Sequence, long Order, ErrorCode Code)> Returned
        {
            get
            {
                lock (_returned)
                {
                    return [.. _returned];
                }
            }
        }

        public void OnDelivered(InFlightRecord record)
        {
        }

        public void OnReturned(InFlightRecord record, ErrorCode code, PersistenceStatus status)
        {
            lock (_returned)
            {
                _returned.Add((record.Sequence, record.Order, code));
            }
        }

        public void OnClientError(Error error)
        {
        }
    }
}
