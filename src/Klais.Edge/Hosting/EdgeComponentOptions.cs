using Klais.Edge.Configuration;
using Klais.Edge.Dam;
using Klais.Edge.Dedupe;
using Klais.Edge.Delivery;
using Klais.Edge.Kafka;
using Klais.Edge.Receive;
using Klais.Edge.Spill;

namespace Klais.Edge.Hosting;

/// <summary>Each component's options, built once from the edge's validated settings (<see cref="EdgeConfig"/>).</summary>
internal static class EdgeComponentOptions
{
    public static ReceiveOptions Receive(EdgeConfig config) => new()
    {
        Endpoint = config.UdpBind,
        Threads = config.ReceiveThreads == 0 ? Environment.ProcessorCount : config.ReceiveThreads,
        HandoffBatches = config.ReceiveHandoff,
        ReceiveBufferBytes = config.ReceiveBufferBytes,

        // One byte more than the largest valid datagram: a longer one arrives truncated to this length and the
        // parser rejects it as payload_too_large instead of admitting a cut-off payload.
        MaxDatagramBytes = Contracts.Wire.Datagram.HeaderLength + config.MaxPayloadBytes + 1,
    };

    public static KafkaProducerOptions Kafka(EdgeConfig config, KafkaEndpoint kafka) => new()
    {
        BootstrapServers = kafka.Bootstrap,
        Topic = config.KafkaTopic,
        NodeId = config.NodeId,
        LingerMs = config.KafkaLingerMs,
        MaxInFlightMessages = config.KafkaMaxInFlight,
        RecordFormat = config.KafkaRecordFormat,
    };

    public static SpillOptions Spill(EdgeConfig config, SpillDirectory directory) => new()
    {
        Directory = directory.Path,
        MaxBytes = config.SpillMaxBytes,
        Fsync = config.SpillFsync,
        FsyncInterval = config.SpillFsyncInterval,
        FullPolicy = config.SpillFullPolicy,
    };

    public static CircuitOptions Circuit(EdgeConfig config) =>
        new() { Window = config.BreakerWindow, BreakDuration = config.BreakerBreak, StallAfter = config.BreakerStall };

    public static DedupeOptions Dedupe(EdgeConfig config) => new() { MaxDeviceCount = config.DedupeMaxDevices, IdleAfter = config.DedupeIdle };

    public static DamOptions Dam(EdgeConfig config) => new()
    {
        MaxRate = config.DamMaxRate,
        BurstSize = config.DamBurstSize,
        QueueMaxMessages = config.DamQueueMaxMessages,
        QueueMaxBytes = config.DamQueueMaxBytes,
    };
}
