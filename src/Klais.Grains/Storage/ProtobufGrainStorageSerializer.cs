using System.Collections.Concurrent;
using System.Reflection;
using Google.Protobuf;
using Orleans.Storage;

namespace Klais.Grains.Storage;

/// <summary>
/// Stores grain state as protobuf (the messages of proto/klais/v1/state.proto): compact, and readable by the next
/// version of the silo however the C# types are renamed. Any other state type goes to <paramref name="fallback"/>.
/// </summary>
internal sealed class ProtobufGrainStorageSerializer(IGrainStorageSerializer fallback) : IGrainStorageSerializer
{
    private static readonly ConcurrentDictionary<Type, MessageParser> Parsers = new();

    public BinaryData Serialize<T>(T? input) =>
        input is IMessage message ? new BinaryData(message.ToByteArray()) : fallback.Serialize(input);

    public T Deserialize<T>(BinaryData input)
    {
        if (!typeof(IMessage).IsAssignableFrom(typeof(T)))
        {
            return fallback.Deserialize<T>(input)!;
        }

        MessageParser parser = Parsers.GetOrAdd(typeof(T), static t =>
            (MessageParser)t.GetProperty("Parser", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!);
        return (T)(object)parser.ParseFrom(input.ToMemory().Span);
    }
}
