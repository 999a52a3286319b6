using System.Reflection;
using Confluent.Kafka;

namespace Klais.Kafka;

/// <summary>
/// Admin clients over an existing producer's or consumer's connections (Confluent's dependent admin client), without
/// Confluent.Kafka 1.9.3's busy loop: its dependent admin client polls the result queue with a 0 ms timeout, so
/// while one lives its poll thread spins a core and allocates about 1 GB/s of closures (confluent-kafka-dotnet
/// issue 1762, fixed in 2.0; 2.x needs a newer librdkafka than Debian's 2.0.2). On an idle edge the few MB left from
/// one metadata request stay resident until a GC that may never come. This sets the poll timeout to Confluent's
/// own default (100 ms, what the fix uses); the private field is found once by reflection, and a test fails if a
/// Confluent build lacks it.
/// </summary>
public static class DependentAdmin
{
    /// <summary>Confluent's <c>dotnet.cancellation.delay.max.ms</c> default: a disposed admin client's thread ends within it.</summary>
    private const int PollTimeoutMs = 100;

    // Type and field named by literals, so trimming (NativeAOT) sees and keeps them.
    private static readonly FieldInfo? PollTimeout = Type.GetType("Confluent.Kafka.AdminClient, Confluent.Kafka")?
        .GetField("cancellationDelayMaxMs", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>True when this Confluent.Kafka build has the field the fix sets (checked by a test).</summary>
    public static bool IsPatched => PollTimeout is not null;

    /// <summary>An admin client on <paramref name="handle"/>'s connections whose poll thread waits instead of spinning.</summary>
    public static IAdminClient Build(Handle handle)
    {
        IAdminClient admin = new DependentAdminClientBuilder(handle).Build();
        if (PollTimeout is not null && PollTimeout.DeclaringType!.IsInstanceOfType(admin))
        {
            PollTimeout.SetValue(admin, PollTimeoutMs);
        }

        return admin;
    }
}
