using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Klais.Xdp.Native;

// C# copies of bpf/klais_structs.h. Field names are the C member names in PascalCase;
// BpfStructLayoutTests checks each size and every offset against the compiled object's BTF.

/// <summary>Mirrors <c>struct klais_block</c>: the <c>blocklist</c> value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisBlock
{
    public ulong ExpiresNs;
    public uint Reason;
    public uint Pad;
}

/// <summary>Mirrors <c>struct klais_bucket</c>: the <c>device_limits</c> value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisBucket
{
    public long Tokens;
    public ulong LastRefillNs;
    public ulong MaxTokens;
    public ulong RefillRate;
}

/// <summary>Mirrors <c>struct klais_limit</c>: the <c>limit_overrides</c> value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisLimit
{
    public ulong MaxTokens;
    public ulong RefillRate;
}

/// <summary>Mirrors <c>struct klais_params</c>: the <c>ai_params</c> value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisParams
{
    public ulong DefaultMaxTokens;
    public ulong DefaultRefillRate;
    public uint SampleEvery;
    public uint EventsPerSec;
}

/// <summary>Mirrors <c>struct klais_stat_value</c>: one CPU's counter in <c>statistics</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisStatValue
{
    public ulong Packets;
    public ulong Bytes;
}

/// <summary>Mirrors <c>struct klais_event_budget</c> (kernel-private; mirrored for the layout test and inspection).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisEventBudget
{
    public ulong WindowStartNs;
    public uint SentInWindow;
    public uint SampleCounter;
}

/// <summary>Mirrors <c>struct klais_event</c>: a record of the <c>events</c> ring buffer.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KlaisEvent
{
    public ulong TimestampNs;
    public ulong DeviceKey;
    public Bytes16 DeviceId;
    public Bytes16 SourceAddr;
    public uint Sequence;
    public uint Reason;
    public ushort SourcePort;
    public byte Kind;
    public Bytes5 Pad;
}

/// <summary>A C <c>__u8[16]</c>.</summary>
[InlineArray(16)]
internal struct Bytes16
{
    private byte _element;
}

/// <summary>A C <c>__u8[5]</c>.</summary>
[InlineArray(5)]
internal struct Bytes5
{
    private byte _element;
}
