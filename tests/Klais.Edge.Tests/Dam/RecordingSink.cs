using System.Text;
using Klais.Edge.Dam;

namespace Klais.Edge.Tests.Dam;

/// <summary>A sink that remembers what it took and refuses while told to.</summary>
internal sealed class RecordingSink : IDamSink
{
    private readonly Lock _gate = new();
    private readonly List<Delivered> _delivered = [];

    public volatile bool Refuse;

    public int Refusals { get; private set; }

    public IReadOnlyList<Delivered> Delivered
    {
        get
        {
            lock (_gate)
            {
                return _delivered.ToArray();
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _delivered.Count;
            }
        }
    }

    public bool TryDeliver(in Admitted record)
    {
        lock (_gate)
        {
            if (Refuse)
            {
                Refusals++;
                return false;
            }

            _delivered.Add(new Delivered(Encoding.UTF8.GetString(record.DeviceId), record.Sequence, Encoding.UTF8.GetString(record.Payload), record.ReceivedUnixNanos));
            return true;
        }
    }
}

internal readonly record struct Delivered(string Device, uint Sequence, string Payload, long ReceivedUnixNanos);

internal static class DamTesting
{
    public static DamOptions Options(double rate, long burst, int maxMessages = 1000, int maxBytes = 1 << 20) =>
        new() { MaxRate = rate, BurstSize = burst, QueueMaxMessages = maxMessages, QueueMaxBytes = maxBytes };

    public static DamOutcome Offer(this Klais.Edge.Dam.Dam dam, string device, uint sequence, string payload = "{\"t\":21.5}")
    {
        byte[] id = Encoding.UTF8.GetBytes(device);
        byte[] body = Encoding.UTF8.GetBytes(payload);
        return dam.Offer(new Admitted(id, sequence, body, 1_000 + sequence));
    }

    public static uint[] Sequences(this RecordingSink sink) => sink.Delivered.Select(d => d.Sequence).ToArray();

    public static void AssertBalanced(Klais.Edge.Dam.Dam dam) =>
        Assert.Equal(dam.Received, dam.Passed + dam.Dropped + dam.QueueDepth);
}
