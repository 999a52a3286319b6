using System.Runtime.InteropServices;

namespace Klais.Net;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>
        /// recvmmsg(2) into <paramref name="count"/> prepared headers. Transient outcomes (timeout, signal) come back
        /// as a <see cref="TransferStatus"/>; anything else throws.
        /// </summary>
        internal static unsafe TransferStatus DangerousReceiveMessages(
            SafeUdpSocketHandle socket, MMsgHdr* messages, uint count, int flags, out int received)
        {
            // The timeout argument stays null: recvmmsg checks it only between datagrams (BUGS in recvmmsg(2));
            // SO_RCVTIMEO bounds the wait instead.
            received = RecvMMsg(socket, messages, count, flags, null);
            return received >= 0 ? TransferStatus.Done : Classify("recvmmsg", ref received);
        }

        /// <summary>sendmmsg(2) of <paramref name="count"/> prepared headers; same outcomes as receive.</summary>
        internal static unsafe TransferStatus DangerousSendMessages(
            SafeUdpSocketHandle socket, MMsgHdr* messages, uint count, int flags, out int sent)
        {
            sent = SendMMsg(socket, messages, count, flags);
            return sent >= 0 ? TransferStatus.Done : Classify("sendmmsg", ref sent);
        }

        private static TransferStatus Classify(string operation, ref int transferred)
        {
            int errno = Marshal.GetLastPInvokeError();
            transferred = 0;
            return errno switch
            {
                Errnos.EAGAIN => TransferStatus.WouldBlock,
                Errnos.EINTR => TransferStatus.Interrupted,
                Errnos.ECONNREFUSED => TransferStatus.Refused,
                _ => throw new SocketOperationException(operation, errno),
            };
        }

        [LibraryImport(Libraries.Libc, EntryPoint = "recvmmsg", SetLastError = true)]
        private static unsafe partial int RecvMMsg(SafeUdpSocketHandle socket, MMsgHdr* messages, uint count, int flags, void* timeout);

        [LibraryImport(Libraries.Libc, EntryPoint = "sendmmsg", SetLastError = true)]
        private static unsafe partial int SendMMsg(SafeUdpSocketHandle socket, MMsgHdr* messages, uint count, int flags);
    }
}

/// <summary>How a batched transfer ended when it did not throw.</summary>
internal enum TransferStatus
{
    /// <summary>Zero or more datagrams moved.</summary>
    Done,

    /// <summary>EAGAIN: the receive timeout passed with nothing to read, or a non-blocking call had nothing to do.</summary>
    WouldBlock,

    /// <summary>EINTR: a signal arrived first.</summary>
    Interrupted,

    /// <summary>ECONNREFUSED: an earlier datagram of a connected socket met a closed port (ICMP port unreachable).</summary>
    Refused,
}
