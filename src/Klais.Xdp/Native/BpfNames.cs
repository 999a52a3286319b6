namespace Klais.Xdp.Native;

/// <summary>Names and indices from bpf/klais_consts.h and bpf/klais_maps.h.</summary>
internal static class BpfNames
{
    /// <summary>The program's name as the kernel reports it: how a KLAIS program (also a stale one) is recognised.</summary>
    public const string Program = "klais_xdp";

    /// <summary>The embedded object (bpf/build/klais_xdp.bpf.o), by its logical resource name.</summary>
    public const string ObjectResource = "klais_xdp.bpf.o";

    public const string Ports = "ports";
    public const string Blocklist = "blocklist";
    public const string DeviceLimits = "device_limits";
    public const string LimitOverrides = "limit_overrides";
    public const string AiParams = "ai_params";
    public const string Statistics = "statistics";
    public const string EventBudget = "event_budget";
    public const string Events = "events";

    /// <summary>Largest refill rate the program's arithmetic allows (KLAIS_MAX_RATE).</summary>
    public const ulong MaxRate = uint.MaxValue;

    /// <summary>Entries of the maps user space fills (KLAIS_MAX_*).</summary>
    public const int MaxPorts = 64;
    public const int MaxBlocked = 262_144;
    public const int MaxOverrides = 65_536;
}

/// <summary>enum klais_stat: the index of each outcome in <c>statistics</c>.</summary>
internal enum StatIndex : uint
{
    Passed = 0,
    DroppedSize = 1,
    DroppedMagic = 2,
    DroppedBlocked = 3,
    DroppedRate = 4,
    NotKlais = 5,
    EventsLost = 6,
    Count = 7,
}
