using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp;

/// <summary>
/// A libbpf or bpf(2) call failed. The message names the operation (with the map or program it touched) and the
/// errno: <c>bpf_map_update_elem(blocklist): E2BIG (Argument list too long)</c>. When libbpf printed something
/// while the call ran (the verifier's log on a failed load), it follows.
/// </summary>
public sealed class BpfException : Exception
{
    public BpfException(string operation, int errno, string? detail = null)
        : base(Format(operation, errno, detail))
    {
        Operation = operation;
        Errno = errno;
    }

    public BpfException()
        : this("bpf", 0)
    {
    }

    public BpfException(string message)
        : base(message)
    {
        Operation = "bpf";
    }

    public BpfException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = "bpf";
    }

    /// <summary>The call and its object, e.g. <c>bpf_map_update_elem(blocklist)</c>.</summary>
    public string Operation { get; }

    /// <summary>The positive errno.</summary>
    public int Errno { get; }

    /// <summary>The symbolic name of <see cref="Errno"/> (<c>E2BIG</c>), or <c>errno N</c> when unknown.</summary>
    public string ErrnoName => Errnos.Name(Errno);

    private static string Format(string operation, int errno, string? detail)
    {
        string message = $"{operation}: {Errnos.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";
        return string.IsNullOrWhiteSpace(detail) ? message : message + Environment.NewLine + detail.TrimEnd();
    }
}
