using Klais.Xdp.Attach;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests.Attach;

/// <summary>
/// Attaching, detaching and what the loader does when the interface already has a program: a stale KLAIS one
/// (left by a crash) is replaced, anybody else's is left alone. Each test has a veth pair of its own.
/// </summary>
public sealed class XdpAttacherTests
{
    [PrivilegedFact]
    public void Dispose_detaches_the_program()
    {
        using var veth = new VethPair();
        var filter = XdpFilter.Attach(Options(veth, XdpMode.Generic));
        uint attachedId = AttachedId(veth);

        filter.Dispose();

        Assert.Equal(filter.Attachment.ProgramId, attachedId);
        Assert.Equal(0u, AttachedId(veth));
    }

    [PrivilegedFact]
    public void Dispose_from_another_namespace_detaches_in_the_namespace_it_attached_in()
    {
        using var veth = new VethPair();
        // Attached from a thread inside the receiver namespace, disposed from the test thread (host namespace).
        XdpFilter filter = veth.Receiver.Run(() => XdpFilter.Attach(Options(veth, XdpMode.Generic) with { NetworkNamespace = null }));

        filter.Dispose();

        Assert.Equal(0u, AttachedId(veth));
    }

    [PrivilegedFact]
    public void Auto_mode_attaches_natively_where_the_driver_supports_it()
    {
        using var veth = new VethPair();
        using XdpFilter filter = XdpFilter.Attach(Options(veth, XdpMode.Auto));

        // veth has native XDP; what the kernel reports is what the attachment says.
        Assert.Equal(XdpMode.Native, filter.Attachment.Mode);
        XdpQueryResult query = veth.Receiver.Run(() => Interop.Libbpf.QueryXdp(filter.Attachment.InterfaceIndex, veth.ReceiverInterface));
        Assert.Equal(filter.Attachment.ProgramId, query.DriverProgramId);
    }

    [PrivilegedFact]
    public void A_stale_klais_program_is_replaced_in_the_same_mode_and_in_another()
    {
        using var veth = new VethPair();
        // A "crashed" edge: attached and gone without detaching.
        XdpFilter.Attach(Options(veth, XdpMode.Generic) with { DetachOnDispose = false }).Dispose();
        uint stale = AttachedId(veth);

        using (XdpFilter sameMode = XdpFilter.Attach(Options(veth, XdpMode.Generic) with { DetachOnDispose = false }))
        {
            Assert.Equal(stale, sameMode.Attachment.ReplacedProgramId);
            Assert.Equal(sameMode.Attachment.ProgramId, AttachedId(veth));
            stale = sameMode.Attachment.ProgramId;
        }

        using XdpFilter otherMode = XdpFilter.Attach(Options(veth, XdpMode.Native));

        Assert.Equal(stale, otherMode.Attachment.ReplacedProgramId);
        Assert.Equal((XdpMode.Native, otherMode.Attachment.ProgramId), (otherMode.Attachment.Mode, AttachedId(veth)));
    }

    [PrivilegedFact]
    public void A_stale_program_is_refused_when_replacing_is_not_allowed()
    {
        using var veth = new VethPair();
        using XdpFilter first = XdpFilter.Attach(Options(veth, XdpMode.Generic));

        var e = Assert.Throws<InvalidOperationException>(() => XdpFilter.Attach(Options(veth, XdpMode.Generic) with { ReplaceStaleProgram = false }));

        Assert.Contains("already has a KLAIS XDP program", e.Message, StringComparison.Ordinal);
        Assert.Equal(first.Attachment.ProgramId, AttachedId(veth));
    }

    [PrivilegedFact]
    public void Another_partys_program_is_never_replaced()
    {
        using var veth = new VethPair();
        using SafeBpfFdHandle foreign = Interop.Libbpf.LoadPassAllProgram("not_klais");
        int ifindex = veth.Receiver.Run(() => XdpAttacher.ResolveInterface(veth.ReceiverInterface));
        Assert.Equal(0, veth.Receiver.Run(() => Interop.Libbpf.TryAttachXdp(ifindex, foreign, Interop.Libbpf.XdpFlagsSkbMode, null)));

        var e = Assert.Throws<InvalidOperationException>(() => XdpFilter.Attach(Options(veth, XdpMode.Generic)));
        var open = Assert.Throws<InvalidOperationException>(() => XdpFilter.Open(veth.ReceiverInterface, veth.ReceiverNamespacePath));

        Assert.Contains("\"not_klais\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("\"not_klais\"", open.Message, StringComparison.Ordinal);
        XdpQueryResult query = veth.Receiver.Run(() => Interop.Libbpf.QueryXdp(ifindex, veth.ReceiverInterface));
        Assert.Equal(Interop.Libbpf.GetProgramInfo(foreign).Id, query.SkbProgramId);
    }

    [PrivilegedFact]
    public void Open_reaches_the_maps_of_a_program_another_process_attached_and_Detach_removes_it()
    {
        using var veth = new VethPair();
        XdpFilter.Attach(Options(veth, XdpMode.Generic) with { DetachOnDispose = false }).Dispose();

        using (XdpFilter opened = XdpFilter.Open(veth.ReceiverInterface, veth.ReceiverNamespacePath))
        {
            opened.Block("opened-1", null, 5);
            Assert.Equal(XdpMode.Generic, opened.Attachment.Mode);
            Assert.Equal(5u, Assert.Single(opened.ListBlocked()).Reason);
            Assert.Equal([(ushort)5000], opened.GetPorts());
        }

        Assert.NotEqual(0u, AttachedId(veth)); // Open never detaches
        Assert.True(XdpFilter.Detach(veth.ReceiverInterface, veth.ReceiverNamespacePath));
        Assert.Equal(0u, AttachedId(veth));
        Assert.False(XdpFilter.Detach(veth.ReceiverInterface, veth.ReceiverNamespacePath));
    }

    [PrivilegedFact]
    public void A_missing_interface_is_named_in_the_error()
    {
        using var veth = new VethPair();

        var e = Assert.Throws<BpfException>(() => XdpFilter.Attach(Options(veth, XdpMode.Generic) with { Interface = "nosuch0" }));

        Assert.Contains("if_nametoindex(nosuch0)", e.Message, StringComparison.Ordinal);
        Assert.Equal("ENODEV", e.ErrnoName);
    }

    private static XdpOptions Options(VethPair veth, XdpMode mode) => new()
    {
        Interface = veth.ReceiverInterface,
        NetworkNamespace = veth.ReceiverNamespacePath,
        Mode = mode,
        EventChannelCapacity = 0,
    };

    private static uint AttachedId(VethPair veth) =>
        veth.Receiver.Run(() => XdpAttacher.AttachedKlaisProgramId(veth.ReceiverInterface));
}
