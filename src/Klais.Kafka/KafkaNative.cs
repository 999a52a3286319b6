namespace Klais.Kafka;

/// <summary>Placeholder until the Kafka work lands.</summary>
internal static class KafkaNative
{
}
