namespace Klais.Xdp;

/// <summary>How the program is attached to an interface.</summary>
public enum XdpMode
{
    /// <summary>Native where the driver supports it, else generic.</summary>
    Auto,

    /// <summary>In the driver (XDP_FLAGS_DRV_MODE): before an skb exists; fails where the driver has no XDP support.</summary>
    Native,

    /// <summary>In the stack (XDP_FLAGS_SKB_MODE): works on any interface, after the skb is built, so slower.</summary>
    Generic,
}

/// <summary>Where and how the program is attached: the interface, the mode in use (never Auto) and the program's kernel id.</summary>
public sealed record XdpAttachment(string Interface, int InterfaceIndex, XdpMode Mode, uint ProgramId)
{
    /// <summary>Id of a stale KLAIS program this attachment replaced (left by a crash), or 0.</summary>
    public uint ReplacedProgramId { get; init; }
}
