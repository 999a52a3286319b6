namespace Klais.Net;

/// <summary>
/// errno values the socket and bpf calls return, and their names (asm-generic/errno-base.h, asm-generic/errno.h;
/// x86-64 and arm64 agree). Klais.Xdp uses them too: one list for every native call of the edge.
/// </summary>
internal static class Errnos
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
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
    internal const int ECONNREFUSED = 111;
    internal const int ENOTSUPP = 524; // the kernel's internal "not supported", which bpf(2) can leak

    internal static string Name(int errno) => errno switch
    {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
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
        ECONNREFUSED => "ECONNREFUSED",
        ENOTSUPP => "ENOTSUPP",
        _ => $"errno {errno}",
    };

    /// <summary>libbpf 1.x returns -errno from calls that return int (and sets errno too): the positive errno.</summary>
    internal static int FromResult(int result) => -result;
}
