namespace Klais.Kafka;

internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>Debian's librdkafka (package librdkafka1); the same file Confluent.Kafka is pointed at.</summary>
        internal const string Rdkafka = "librdkafka.so.1";
    }
}
