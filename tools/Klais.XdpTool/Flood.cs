using System.Diagnostics;
using System.Net;
using Klais.Contracts.Wire;
using Klais.Net;

namespace Klais.XdpTool;

/// <summary>
/// The benchmark's flood: a repeating cycle of 100 datagrams — <c>valid</c> valid ones from distinct devices and
/// the rest split evenly into bad magic, too short and valid-looking datagrams of blocklisted devices — sent with
/// sendmmsg as fast as the socket takes them. The counts per kind are exact for a count that is a multiple of 100.
/// </summary>
internal static class Flood
{
    private const int Batch = 64;
    private const int CycleLength = 100;

    public static FloodSummary Run(IPEndPoint target, long count, int validPerHundred, int blockedDevices, int devices)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(validPerHundred);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(validPerHundred, CycleLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockedDevices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);

        byte[][] cycle = BuildCycle(validPerHundred, blockedDevices, devices, out FloodKind[] kinds);
        var sent = new long[Enum.GetValues<FloodKind>().Length];
        using UdpSocket socket = UdpSocket.Connect(target, new UdpSocketOptions { SendBufferBytes = 4 * 1024 * 1024, ReportKernelDrops = false });
        using var batch = new SendBatch(Batch, cycle.Max(d => d.Length));
        var clock = Stopwatch.StartNew();
        long total = 0;
        int position = 0;
        while (total < count)
        {
            int n = (int)Math.Min(Batch, count - total);
            for (int i = 0; i < n; i++)
            {
                batch.Set(i, cycle[position]);
                sent[(int)kinds[position]]++;
                position = (position + 1) % CycleLength;
            }

            int first = 0;
            while (first < n)
            {
                TransferStatus status = batch.Send(socket, first, n - first, out int done);
                first += done;
                if (status == TransferStatus.WouldBlock)
                {
                    Thread.Yield();
                }
            }

            total += n;
        }

        double seconds = clock.Elapsed.TotalSeconds;
        return new FloodSummary(total, sent[(int)FloodKind.Valid], sent[(int)FloodKind.BadMagic], sent[(int)FloodKind.TooShort],
            sent[(int)FloodKind.Blocked], seconds, total / seconds);
    }

    /// <summary>The id of blocklisted flood device <paramref name="index"/> (from 0): what the bench blocks first.</summary>
    public static string BlockedDeviceId(int index) => $"flood-blk-{index:D4}";

    private static byte[][] BuildCycle(int valid, int blockedDevices, int devices, out FloodKind[] kinds)
    {
        var cycle = new byte[CycleLength][];
        kinds = new FloodKind[CycleLength];
        byte[] payload = "{\"t\":21.5,\"h\":40}"u8.ToArray();
        int garbage = CycleLength - valid;
        int validSeen = 0;
        int garbageSeen = 0;
        for (int i = 0; i < CycleLength; i++)
        {
            // Spread the valid datagrams evenly over the cycle.
            bool isValid = (long)(i + 1) * valid / CycleLength > validSeen;
            FloodKind kind = isValid ? FloodKind.Valid : (FloodKind)(1 + (garbageSeen * 3 / Math.Max(garbage, 1)));
            kinds[i] = kind;
            string device = kind == FloodKind.Blocked ? BlockedDeviceId(i % blockedDevices) : $"flood-{i % devices:D6}";
            byte[] datagram = new byte[Datagram.HeaderLength + payload.Length];
            Datagram.Write(datagram, System.Text.Encoding.ASCII.GetBytes(device), (uint)i, payload);
            cycle[i] = kind switch
            {
                FloodKind.BadMagic => BreakMagic(datagram),
                FloodKind.TooShort => datagram[..(Datagram.HeaderLength - 4)],
                _ => datagram,
            };
            if (isValid)
            {
                validSeen++;
            }
            else
            {
                garbageSeen++;
            }
        }

        return cycle;
    }

    private static byte[] BreakMagic(byte[] datagram)
    {
        datagram[0] = 0x55;
        datagram[1] = 0xAA;
        return datagram;
    }
}

internal enum FloodKind
{
    Valid,
    BadMagic,
    TooShort,
    Blocked,
}

internal sealed record FloodSummary(long Sent, long Valid, long BadMagic, long TooShort, long Blocked, double Seconds, double Rate);
