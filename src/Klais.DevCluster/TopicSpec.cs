using System.Globalization;
using Klais.Kafka;

namespace Klais.DevCluster;

/// <summary>A <c>--topic name[:partitions[:replication]]</c> argument.</summary>
internal sealed record TopicSpec(string Name, int Partitions, int ReplicationFactor)
{
    /// <summary>
    /// Parses one argument; on failure <paramref name="problem"/> says what is wrong with it. The replication
    /// factor is checked against <paramref name="brokers"/> only when that is valid (1 or more).
    /// </summary>
    public static bool TryParse(string text, int brokers, out TopicSpec? spec, out string? problem)
    {
        spec = null;
        string[] parts = text.Split(':');
        string name = parts[0];
        if (parts.Length > 3)
        {
            problem = $"--topic '{text}' has {parts.Length} parts. It must be name[:partitions[:replication]].";
            return false;
        }

        if (!KafkaTopicName.IsValid(name))
        {
            problem = $"--topic '{text}' has the name '{name}'. {KafkaTopicName.Rule}";
            return false;
        }

        int partitions = 1;
        if (parts.Length > 1 && (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out partitions) || partitions < 1))
        {
            problem = $"--topic '{text}' has {parts[1]} partitions. It must be a whole number, 1 or greater.";
            return false;
        }

        int replication = 1;
        if (parts.Length > 2 && (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out replication) || replication < 1 || (brokers >= 1 && replication > brokers)))
        {
            problem = $"--topic '{text}' has replication factor {parts[2]}. It must be a whole number from 1 to --brokers ({brokers}).";
            return false;
        }

        spec = new TopicSpec(name, partitions, replication);
        problem = null;
        return true;
    }
}
