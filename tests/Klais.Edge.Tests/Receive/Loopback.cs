using System.Diagnostics;
using System.Net;
using Klais.Contracts.Wire;
using Klais.Net;

namespace Klais.Edge.Tests.Receive;

/// <summary>Sends test datagrams over loopback and waits, with a bound, for conditions on real sockets.</summary>
internal static class Loopback
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Datagram <paramref name="index"/> of a test run: device <c>t-(index mod 10)</c>, sequence = index.</summary>
    public static byte[] TestDatagram(int index, int payloadBytes = 40)
    {
        byte[] payload = Klais.LoadGen.DatagramFactory.Payload(payloadBytes);
        var datagram = new byte[Datagram.HeaderLength + payload.Length];
        Datagram.Write(datagram, System.Text.Encoding.ASCII.GetBytes($"t-{index % 10}"), (uint)index, payload);
        return datagram;
    }

    /// <summary>Sends every datagram to <paramref name="target"/> with sendmmsg in batches of up to 64.</summary>
    public static void Send(IPEndPoint target, IReadOnlyList<byte[]> datagrams)
    {
        using UdpSocket socket = UdpSocket.Connect(target, new UdpSocketOptions { ReportKernelDrops = false });
        int max = datagrams.Count == 0 ? 1 : datagrams.Max(d => d.Length);
        using var batch = new SendBatch(64, max);
        for (int start = 0; start < datagrams.Count; start += batch.Capacity)
        {
            int count = Math.Min(batch.Capacity, datagrams.Count - start);
            for (int i = 0; i < count; i++)
            {
                batch.Set(i, datagrams[start + i]);
            }

            int first = 0;
            while (first < count)
            {
                batch.Send(socket, first, count - first, out int sent);
                first += sent;
            }
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds; false when <see cref="Patience"/> ran out first.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan? patience = null)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)((patience ?? Patience).TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            Thread.Sleep(2);
        }

        return true;
    }
}
