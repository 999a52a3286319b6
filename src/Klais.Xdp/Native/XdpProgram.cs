using Klais.Net;
using Klais.Xdp.Maps;

namespace Klais.Xdp.Native;

/// <summary>
/// The loaded KLAIS XDP program and its maps, as descriptors this process owns. Made either by loading the object
/// (<see cref="Load"/>) or by finding the maps of a program already attached somewhere (<see cref="FromProgramId"/>).
/// Attaching is <see cref="Attach.XdpAttacher"/>'s business.
/// </summary>
internal sealed class XdpProgram : IDisposable
{
    private XdpProgram(SafeBpfFdHandle program, uint id, Func<string, SafeBpfFdHandle> mapFd)
    {
        ProgramFd = program;
        ProgramId = id;
        var opened = new List<IDisposable>();
        try
        {
            Ports = Track(new BpfMap<ushort, byte>(BpfNames.Ports, mapFd(BpfNames.Ports)));
            Blocklist = Track(new BpfMap<ulong, KlaisBlock>(BpfNames.Blocklist, mapFd(BpfNames.Blocklist)));
            DeviceLimits = Track(new BpfMap<ulong, KlaisBucket>(BpfNames.DeviceLimits, mapFd(BpfNames.DeviceLimits)));
            LimitOverrides = Track(new BpfMap<ulong, KlaisLimit>(BpfNames.LimitOverrides, mapFd(BpfNames.LimitOverrides)));
            AiParams = Track(new BpfMap<uint, KlaisParams>(BpfNames.AiParams, mapFd(BpfNames.AiParams)));
            Statistics = Track(new BpfPerCpuMap<uint, KlaisStatValue>(BpfNames.Statistics, mapFd(BpfNames.Statistics)));
            EventsFd = Track(mapFd(BpfNames.Events));
        }
        catch
        {
            opened.ForEach(d => d.Dispose());
            throw;
        }

        T Track<T>(T map)
            where T : IDisposable
        {
            opened.Add(map);
            return map;
        }
    }

    public SafeBpfFdHandle ProgramFd { get; }

    /// <summary>The kernel's id of the program (bpftool prog show id N).</summary>
    public uint ProgramId { get; }

    public BpfMap<ushort, byte> Ports { get; }

    public BpfMap<ulong, KlaisBlock> Blocklist { get; }

    public BpfMap<ulong, KlaisBucket> DeviceLimits { get; }

    public BpfMap<ulong, KlaisLimit> LimitOverrides { get; }

    public BpfMap<uint, KlaisParams> AiParams { get; }

    public BpfPerCpuMap<uint, KlaisStatValue> Statistics { get; }

    /// <summary>The ring buffer map; read through <see cref="Events.XdpEventReader"/>.</summary>
    public SafeBpfFdHandle EventsFd { get; }

    /// <summary>
    /// Loads (verifies) the object — the embedded one, or <paramref name="objectPath"/> — and keeps descriptors
    /// of the program and maps. The libbpf object is closed before returning; the descriptors keep everything alive.
    /// </summary>
    public static XdpProgram Load(string? objectPath = null) =>
        BpfObjectImage.WithOpenObject(BpfObjectImage.Read(objectPath), obj =>
        {
            Interop.Libbpf.LoadObject(obj);
            SafeBpfFdHandle program = Interop.Libbpf.DuplicateProgramFd(obj, BpfNames.Program);
            try
            {
                uint id = Interop.Libbpf.GetProgramInfo(program).Id;
                return new XdpProgram(program, id, name => Interop.Libbpf.DuplicateMapFd(obj, name));
            }
            catch
            {
                program.Dispose();
                throw;
            }
        });

    /// <summary>
    /// The program with kernel id <paramref name="programId"/> and its maps, found by name among the maps it uses.
    /// Throws when it is not a KLAIS program.
    /// </summary>
    public static XdpProgram FromProgramId(uint programId)
    {
        SafeBpfFdHandle program = Interop.Libbpf.ProgramFdById(programId);
        var maps = new Dictionary<string, SafeBpfFdHandle>(StringComparer.Ordinal);
        try
        {
            BpfProgramInfo info = Interop.Libbpf.GetProgramInfo(program);
            if (info.Name != BpfNames.Program)
            {
                throw new InvalidOperationException($"Program {programId} is \"{info.Name}\", not the KLAIS program ({BpfNames.Program}).");
            }

            foreach (uint mapId in info.MapIds)
            {
                SafeBpfFdHandle map = Interop.Libbpf.MapFdById(mapId);
                string name = Interop.Libbpf.GetMapInfo(map).Name;
                if (!maps.TryAdd(name, map))
                {
                    map.Dispose();
                }
            }

            var result = new XdpProgram(program, info.Id, name => maps.Remove(name, out SafeBpfFdHandle? fd)
                ? fd
                : throw new BpfException($"program {programId} has no map named {name}", Errnos.ENOENT));
            foreach (SafeBpfFdHandle unused in maps.Values)
            {
                unused.Dispose();
            }

            return result;
        }
        catch
        {
            foreach (SafeBpfFdHandle fd in maps.Values)
            {
                fd.Dispose();
            }

            program.Dispose();
            throw;
        }
    }

    /// <summary>The per-outcome counters summed over every CPU.</summary>
    public XdpStatistics ReadStatistics(long eventsDroppedInUserSpace)
    {
        var perCpu = new KlaisStatValue[Statistics.PossibleCpus];
        Span<XdpCounter> sums = stackalloc XdpCounter[(int)StatIndex.Count];
        for (uint index = 0; index < (uint)StatIndex.Count; index++)
        {
            if (Statistics.TryLookup(index, perCpu))
            {
                foreach (KlaisStatValue value in perCpu)
                {
                    sums[(int)index] += new XdpCounter(value.Packets, value.Bytes);
                }
            }
        }

        return new XdpStatistics(
            sums[(int)StatIndex.Passed],
            sums[(int)StatIndex.DroppedSize],
            sums[(int)StatIndex.DroppedMagic],
            sums[(int)StatIndex.DroppedBlocked],
            sums[(int)StatIndex.DroppedRate],
            sums[(int)StatIndex.NotKlais],
            sums[(int)StatIndex.EventsLost].Packets,
            eventsDroppedInUserSpace);
    }

    /// <summary>Replaces the ai_params entry.</summary>
    public void WriteParameters(XdpParameters parameters) =>
        AiParams.Update(0, new KlaisParams
        {
            DefaultMaxTokens = parameters.DefaultMaxTokens,
            DefaultRefillRate = parameters.DefaultRefillRate,
            SampleEvery = parameters.SampleEvery,
            EventsPerSec = parameters.EventsPerSecond,
        });

    /// <summary>Replaces the port set: new ports first, then the ones no longer wanted, so a kept port is never missing.</summary>
    public void WritePorts(IReadOnlyCollection<ushort> ports)
    {
        foreach (ushort port in ports)
        {
            Ports.Update(port, (byte)1);
        }

        foreach (ushort old in Ports.Keys())
        {
            if (!ports.Contains(old))
            {
                Ports.Delete(old);
            }
        }
    }

    /// <summary>BPF_PROG_TEST_RUN of one Ethernet frame: the XDP action (1 = drop, 2 = pass).</summary>
    public uint TestRun(ReadOnlySpan<byte> frame) => Interop.Libbpf.TestRun(ProgramFd, frame);

    public void Dispose()
    {
        Ports.Dispose();
        Blocklist.Dispose();
        DeviceLimits.Dispose();
        LimitOverrides.Dispose();
        AiParams.Dispose();
        Statistics.Dispose();
        EventsFd.Dispose();
        ProgramFd.Dispose();
    }
}
