using System.Globalization;
using Klais.Net;

namespace Klais.Edge.Receive;

/// <summary>
/// Datagrams the kernel dropped at a UDP socket (its <c>sk_drops</c>: receive queue full, memory pressure), read from
/// <c>/proc/net/udp</c> and <c>/proc/net/udp6</c> by the socket's inode. SO_RXQ_OVFL tells the same number only on a
/// datagram that is received, as it stood when that datagram was queued: drops after the last queued datagram (a
/// socket whose buffer filled while nobody read it, e.g. during start-up) stay invisible until the next one arrives.
/// This count is current whenever it is read.
/// </summary>
internal static class SocketDrops
{
    private static readonly string[] Tables = ["/proc/net/udp", "/proc/net/udp6"];

    /// <summary>The socket's inode (from <c>/proc/self/fd</c>), or 0 when it cannot be read.</summary>
    public static long InodeOf(UdpSocket socket)
    {
        string? target;
        try
        {
            target = new FileInfo($"/proc/self/fd/{socket.Handle.DangerousGetHandle()}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        // "socket:[12345]"
        const string Prefix = "socket:[";
        return target is not null && target.StartsWith(Prefix, StringComparison.Ordinal) && target.EndsWith(']')
            && long.TryParse(target.AsSpan(Prefix.Length, target.Length - Prefix.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long inode)
            ? inode : 0;
    }

    /// <summary>
    /// Fills <paramref name="drops"/> with the kernel's drop count of each socket of <paramref name="inodes"/>; a socket
    /// not found keeps its value. False when the tables cannot be read.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<long> inodes, Span<long> drops)
    {
        try
        {
            foreach (string table in Tables)
            {
                if (!File.Exists(table))
                {
                    continue;
                }

                foreach (string line in File.ReadLines(table))
                {
                    Match(line, inodes, drops);
                }
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// One line of the table: <c>sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops</c>;
    /// the header line has no number where the inode goes and matches nothing.
    /// </summary>
    internal static void Match(string line, ReadOnlySpan<long> inodes, Span<long> drops)
    {
        Span<Range> fields = stackalloc Range[14];
        ReadOnlySpan<char> text = line.AsSpan();
        int count = text.Split(fields, ' ', StringSplitOptions.RemoveEmptyEntries);
        if (count < 13
            || !long.TryParse(text[fields[9]], NumberStyles.None, CultureInfo.InvariantCulture, out long inode)
            || !long.TryParse(text[fields[12]], NumberStyles.None, CultureInfo.InvariantCulture, out long dropped))
        {
            return;
        }

        int index = inodes.IndexOf(inode);
        if (index >= 0 && inode != 0)
        {
            drops[index] = dropped;
        }
    }
}
