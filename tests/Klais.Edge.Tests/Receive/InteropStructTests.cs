using System.Runtime.InteropServices;
using static Klais.Net.Interop.Libc;

namespace Klais.Edge.Tests.Receive;

/// <summary>Sizes and offsets as gcc reports them for glibc on x86-64 (sizeof/offsetof of each C struct).</summary>
public sealed class InteropStructTests
{
    [Fact]
    public unsafe void Structs_match_the_C_layouts()
    {
        Assert.Equal(64, sizeof(MMsgHdr));
        Assert.Equal(56, (int)Marshal.OffsetOf<MMsgHdr>(nameof(MMsgHdr.Length)));
        Assert.Equal(56, sizeof(MsgHdr));
        Assert.Equal(
            new[] { 0, 8, 16, 24, 32, 40, 48 },
            new[] { nameof(MsgHdr.Name), nameof(MsgHdr.NameLength), nameof(MsgHdr.Iov), nameof(MsgHdr.IovLength), nameof(MsgHdr.Control), nameof(MsgHdr.ControlLength), nameof(MsgHdr.Flags) }
                .Select(f => (int)Marshal.OffsetOf<MsgHdr>(f)));
        Assert.Equal(16, sizeof(IoVec));
        Assert.Equal(16, sizeof(CMsgHdr));
        Assert.Equal(12, (int)Marshal.OffsetOf<CMsgHdr>(nameof(CMsgHdr.Type)));
        Assert.Equal(16, sizeof(SockAddrIn));
        Assert.Equal(4, (int)Marshal.OffsetOf<SockAddrIn>(nameof(SockAddrIn.Address)));
        Assert.Equal(28, sizeof(SockAddrIn6));
        Assert.Equal(24, (int)Marshal.OffsetOf<SockAddrIn6>(nameof(SockAddrIn6.ScopeId)));
        Assert.Equal(16, sizeof(TimeVal));
        Assert.Equal(128, sizeof(SockAddrStorage));
    }
}
