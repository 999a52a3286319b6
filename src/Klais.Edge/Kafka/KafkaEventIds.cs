namespace Klais.Edge.Kafka;

/// <summary>Log event ids of the edge's Kafka producer (300–399).</summary>
internal static class KafkaEventIds
{
    public const int Started = 300;
    public const int Librdkafka = 301;
    public const int ClientError = 302;
    public const int FatalError = 303;
    public const int DeliveryFailing = 304;
    public const int Statistics = 305;
    public const int FlushIncomplete = 306;
}
