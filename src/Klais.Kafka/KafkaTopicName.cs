namespace Klais.Kafka;

/// <summary>Kafka's rule for topic names, checked where names are configured.</summary>
public static class KafkaTopicName
{
    /// <summary>Kafka's limit on the length of a topic name.</summary>
    public const int MaxLength = 249;

    /// <summary>The rule as a sentence, for validation messages.</summary>
    public const string Rule = "It must be 1 to 249 of a-z A-Z 0-9 . _ - (not '.' or '..').";

    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= MaxLength } and not ("." or "..")
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
