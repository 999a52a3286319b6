using System.Runtime.InteropServices;

namespace Klais.Net;

/// <summary>A socket call failed: names the operation and the errno.</summary>
public sealed class SocketOperationException : Exception
{
    public SocketOperationException(string operation, int errno)
        : base($"{operation} failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).")
    {
        Operation = operation;
        Errno = errno;
    }

    public SocketOperationException()
        : this("socket operation", 0)
    {
    }

    public SocketOperationException(string message)
        : base(message)
    {
        Operation = "socket operation";
    }

    public SocketOperationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = "socket operation";
    }

    public string Operation { get; }

    public int Errno { get; }
}
