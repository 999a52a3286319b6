using System.Text;

namespace Klais.Xdp;

/// <summary>What <see cref="XdpFilter.Attach"/> needs. <see cref="Validate"/> lists every problem at once.</summary>
public sealed record XdpOptions
{
    /// <summary>The interface to filter, e.g. <c>eth0</c> (the edge's KLAIS_XDP_IFACE).</summary>
    public string Interface { get; init; } = string.Empty;

    public XdpMode Mode { get; init; } = XdpMode.Auto;

    /// <summary>UDP destination ports the filter inspects (the edge's receive port); other traffic passes untouched.</summary>
    public IReadOnlyList<ushort> Ports { get; init; } = [5000];

    /// <summary>Defaults written to <c>ai_params</c> before the program is attached.</summary>
    public XdpParameters Parameters { get; init; } = new();

    /// <summary>Replace a KLAIS program already attached to the interface (left by a crash). A foreign program is never replaced.</summary>
    public bool ReplaceStaleProgram { get; init; } = true;

    /// <summary>Detach on Dispose. False for a tool that attaches and exits, leaving the filter in place.</summary>
    public bool DetachOnDispose { get; init; } = true;

    /// <summary>A network namespace to attach in (e.g. <c>/run/netns/edge</c>); null = the calling thread's.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>Capacity of the event channel; 0 = do not read the ring buffer.</summary>
    public int EventChannelCapacity { get; init; } = 4096;

    /// <summary>A compiled object to load instead of the embedded one (bpf/build/klais_xdp.bpf.o at build time).</summary>
    public string? ObjectPath { get; init; }

    /// <summary>Every broken rule, each naming the setting, its value and the rule; empty when the options are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        int nameBytes = Encoding.UTF8.GetByteCount(Interface ?? string.Empty);
        if (nameBytes is 0 or > 15 || Interface!.Any(c => c is '/' or ' ' or '\0'))
        {
            errors.Add($"`XdpOptions.Interface` is \"{Interface}\". It must name a network interface: 1 to 15 bytes, no '/', space or NUL.");
        }

        if (!Enum.IsDefined(Mode))
        {
            errors.Add($"`XdpOptions.Mode` is {(int)Mode}. It must be Auto, Native or Generic.");
        }

        if (Ports is null || Ports.Count == 0 || Ports.Count > Native.BpfNames.MaxPorts || Ports.Contains((ushort)0))
        {
            string ports = Ports is null ? "null" : "[" + string.Join(", ", Ports) + "]";
            errors.Add($"`XdpOptions.Ports` is {ports}. It must hold 1 to {Native.BpfNames.MaxPorts} ports, none of them 0.");
        }

        if (EventChannelCapacity < 0)
        {
            errors.Add($"`XdpOptions.EventChannelCapacity` is {EventChannelCapacity}. It must be 0 (no events) or more.");
        }

        if (ObjectPath is not null && !File.Exists(ObjectPath))
        {
            errors.Add($"`XdpOptions.ObjectPath` is \"{ObjectPath}\". It must be an existing file (or null for the embedded object).");
        }

        if (Parameters is null)
        {
            errors.Add("`XdpOptions.Parameters` is null. It must be set.");
        }
        else
        {
            errors.AddRange(Parameters.Validate("XdpOptions.Parameters"));
        }

        return errors;
    }

    internal void ThrowIfInvalid()
    {
        IReadOnlyList<string> errors = Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors));
        }
    }
}

/// <summary>
/// The <c>ai_params</c> entry: defaults and thresholds the control plane changes at run time. A device without an
/// override follows these at once, including devices already seen.
/// </summary>
public sealed record XdpParameters
{
    /// <summary>Bucket size (burst) of a device without an override.</summary>
    public ulong DefaultMaxTokens { get; init; }

    /// <summary>Tokens per second of a device without an override; 0 = no per-device limit.</summary>
    public ulong DefaultRefillRate { get; init; }

    /// <summary>1 in N blocked or rate-limited drops per CPU raises an event; 0 = none.</summary>
    public uint SampleEvery { get; init; } = 64;

    /// <summary>Cap on events of every kind, per CPU per second; 0 = no events.</summary>
    public uint EventsPerSecond { get; init; } = 1000;

    /// <summary>Every broken rule; <paramref name="prefix"/> names the setting in the messages.</summary>
    public IReadOnlyList<string> Validate(string prefix = "XdpParameters")
    {
        var errors = new List<string>();
        if (DefaultRefillRate > Native.BpfNames.MaxRate)
        {
            errors.Add($"`{prefix}.DefaultRefillRate` is {DefaultRefillRate}. It must be at most {Native.BpfNames.MaxRate} tokens per second.");
        }

        if (DefaultRefillRate > 0 && DefaultMaxTokens == 0)
        {
            errors.Add($"`{prefix}.DefaultMaxTokens` is 0. It must be at least 1 when DefaultRefillRate is set ({DefaultRefillRate}).");
        }

        return errors;
    }
}

/// <summary>A per-device token bucket: up to <see cref="MaxTokens"/> packets at once, refilled at <see cref="RefillRate"/> per second.</summary>
public readonly record struct DeviceLimit(ulong MaxTokens, ulong RefillRate)
{
    /// <summary>Every broken rule, or empty.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxTokens == 0)
        {
            errors.Add($"`DeviceLimit.MaxTokens` is 0. It must be at least 1.");
        }

        if (RefillRate is 0 or > Native.BpfNames.MaxRate)
        {
            errors.Add($"`DeviceLimit.RefillRate` is {RefillRate}. It must be 1 to {Native.BpfNames.MaxRate} tokens per second.");
        }

        return errors;
    }
}
