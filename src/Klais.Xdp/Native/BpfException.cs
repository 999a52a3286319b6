using System.Runtime.InteropServices;

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

/// <summary>errno values the bpf calls return (asm-generic/errno-base.h, errno.h; x86-64 and arm64 agree).</summary>
internal static class Errnos
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int E2BIG = 7;
    internal const int EBADF = 9;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EFAULT = 14;
    internal const int EBUSY = 16;
    internal const int EEXIST = 17;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
    internal const int ENOSPC = 28;
    internal const int ERANGE = 34;
    internal const int EOPNOTSUPP = 95;
    internal const int ENOTSUPP = 524; // the kernel's internal "not supported", which bpf(2) can leak

    internal static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        E2BIG => "E2BIG",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        ENODEV => "ENODEV",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        ERANGE => "ERANGE",
        EOPNOTSUPP => "EOPNOTSUPP",
        ENOTSUPP => "ENOTSUPP",
        _ => $"errno {errno}",
    };

    /// <summary>libbpf 1.x returns -errno from calls that return int (and sets errno too): the positive errno.</summary>
    internal static int FromResult(int result) => -result;
}
