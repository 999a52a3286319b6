using Klais.Net;
using Klais.Xdp.Native;
using static Klais.Xdp.Interop.Libbpf;

namespace Klais.Xdp.Attach;

/// <summary>
/// Attaches and detaches the KLAIS program with netlink (bpf_xdp_attach), in the calling thread's network
/// namespace. A netlink attachment outlives the process, so a crashed edge leaves its program behind: attaching
/// again finds it by name and replaces it (atomically when the mode allows). A program that is not KLAIS's is
/// never touched.
/// </summary>
internal static class XdpAttacher
{
    public static XdpAttachment Attach(XdpProgram program, string interfaceName, XdpMode mode, bool replaceStale)
    {
        int ifindex = ResolveInterface(interfaceName);
        using StaleProgram? stale = FindKlaisProgram(ifindex, interfaceName);
        if (stale is not null && !replaceStale)
        {
            throw new InvalidOperationException(
                $"{interfaceName} already has a KLAIS XDP program attached (id {stale.Id}, {stale.Mode} mode): another edge, or one " +
                "left by a crash. Detach it (klais-xdp detach) or allow replacing it (XdpOptions.ReplaceStaleProgram).");
        }

        XdpMode[] candidates = mode switch
        {
            XdpMode.Native => [XdpMode.Native],
            XdpMode.Generic => [XdpMode.Generic],
            _ => [XdpMode.Native, XdpMode.Generic],
        };

        bool staleDetached = false;
        int errno = 0;
        XdpMode tried = candidates[0];
        foreach (XdpMode candidate in candidates)
        {
            tried = candidate;
            if (stale is not null && !staleDetached && stale.Mode == candidate)
            {
                // Same mode: swap in one step, so no packet meets an interface without the filter.
                errno = TryAttachXdp(ifindex, program.ProgramFd, Flags(candidate), stale.Fd);
            }
            else
            {
                if (stale is not null && !staleDetached)
                {
                    int detachErrno = TryDetachXdp(ifindex, Flags(stale.Mode), stale.Fd);
                    if (detachErrno != 0 && detachErrno != Errnos.ENOENT)
                    {
                        throw new BpfException($"bpf_xdp_detach({interfaceName}, stale program {stale.Id})", detachErrno);
                    }

                    staleDetached = true;
                }

                errno = TryAttachXdp(ifindex, program.ProgramFd, Flags(candidate) | XdpFlagsUpdateIfNoExist, expectedProgram: null);
            }

            // Auto falls back to generic when the driver has no native XDP (EOPNOTSUPP) or refuses this program.
            if (errno == 0 || mode != XdpMode.Auto || errno is not (Errnos.EOPNOTSUPP or Errnos.EINVAL or Errnos.ENOTSUPP))
            {
                break;
            }
        }

        if (errno != 0)
        {
            string hint = errno == Errnos.EBUSY || errno == Errnos.EEXIST
                ? " (another XDP program is attached, possibly in the other mode)"
                : string.Empty;
            throw new BpfException($"bpf_xdp_attach({interfaceName}, {tried} mode){hint}", errno);
        }

        XdpQueryResult attached = QueryXdp(ifindex, interfaceName);
        XdpMode actual = attached.AttachMode == XdpAttachedSkb ? XdpMode.Generic : XdpMode.Native;
        return new XdpAttachment(interfaceName, ifindex, actual, program.ProgramId) { ReplacedProgramId = stale?.Id ?? 0 };
    }

    /// <summary>
    /// Detaches <paramref name="program"/> if it is still the one attached; false when it was not (already detached,
    /// replaced by someone else, or the interface is gone).
    /// </summary>
    public static bool Detach(XdpAttachment attachment, SafeBpfFdHandle program)
    {
        int errno = TryDetachXdp(attachment.InterfaceIndex, Flags(attachment.Mode), program);
        return errno switch
        {
            0 => true,
            Errnos.ENOENT or Errnos.ENODEV or Errnos.EEXIST or Errnos.EINVAL => false,
            _ => throw new BpfException($"bpf_xdp_detach({attachment.Interface})", errno),
        };
    }

    /// <summary>Detaches whatever KLAIS program is attached to <paramref name="interfaceName"/>; false when there was none.</summary>
    public static bool DetachKlaisProgram(string interfaceName)
    {
        int ifindex = ResolveInterface(interfaceName);
        using StaleProgram? attached = FindKlaisProgram(ifindex, interfaceName);
        if (attached is null)
        {
            return false;
        }

        int errno = TryDetachXdp(ifindex, Flags(attached.Mode), attached.Fd);
        return errno == 0 || (errno == Errnos.ENOENT ? false : throw new BpfException($"bpf_xdp_detach({interfaceName})", errno));
    }

    /// <summary>The id of the KLAIS program attached to <paramref name="interfaceName"/>, or 0. Throws when a foreign program is attached.</summary>
    public static uint AttachedKlaisProgramId(string interfaceName)
    {
        int ifindex = ResolveInterface(interfaceName);
        using StaleProgram? attached = FindKlaisProgram(ifindex, interfaceName);
        return attached?.Id ?? 0;
    }

    public static int ResolveInterface(string interfaceName)
    {
        int ifindex = Interop.Libc.InterfaceIndex(interfaceName);
        return ifindex > 0
            ? ifindex
            : throw new BpfException($"if_nametoindex({interfaceName}): no such interface in network namespace {NetworkNamespace.CurrentIdentity()}", Errnos.ENODEV);
    }

    private static uint Flags(XdpMode mode) => mode == XdpMode.Generic ? XdpFlagsSkbMode : XdpFlagsDrvMode;

    /// <summary>The KLAIS program attached to the interface (any mode), or null; throws when another program holds it.</summary>
    private static StaleProgram? FindKlaisProgram(int ifindex, string interfaceName)
    {
        XdpQueryResult query = QueryXdp(ifindex, interfaceName);
        if (query.HardwareProgramId != 0)
        {
            throw new InvalidOperationException($"{interfaceName} has a hardware-offloaded XDP program (id {query.HardwareProgramId}); KLAIS does not replace it.");
        }

        StaleProgram? found = null;
        foreach ((uint id, XdpMode mode) in new[] { (query.DriverProgramId, XdpMode.Native), (query.SkbProgramId, XdpMode.Generic) })
        {
            if (id == 0)
            {
                continue;
            }

            SafeBpfFdHandle fd;
            try
            {
                fd = ProgramFdById(id);
            }
            catch (BpfException e) when (e.Errno == Errnos.EPERM)
            {
                found?.Dispose();
                throw new BpfException(e.Operation, e.Errno,
                    $"{interfaceName} has an XDP program attached (id {id}, {mode} mode). Telling whether it is a stale KLAIS " +
                    "program needs BPF_PROG_GET_FD_BY_ID, which the kernel allows with CAP_SYS_ADMIN only. Grant it, or detach " +
                    $"the program first (as root: klais-xdp detach --iface {interfaceName}, or ip link set dev {interfaceName} xdp off).");
            }

            string name = GetProgramInfo(fd).Name;
            if (name != BpfNames.Program)
            {
                fd.Dispose();
                found?.Dispose();
                throw new InvalidOperationException(
                    $"{interfaceName} has another XDP program attached: \"{name}\" (id {id}, {mode} mode). KLAIS does not replace " +
                    $"programs it did not load; detach it first (ip link set dev {interfaceName} xdp off).");
            }

            found?.Dispose();
            found = new StaleProgram(id, mode, fd);
        }

        return found;
    }

    private sealed record StaleProgram(uint Id, XdpMode Mode, SafeBpfFdHandle Fd) : IDisposable
    {
        public void Dispose() => Fd.Dispose();
    }
}
