using System.Runtime.InteropServices;
using System.Text;
using Klais.Net;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        // XDP_FLAGS_* (uapi linux/if_link.h).
        internal const uint XdpFlagsUpdateIfNoExist = 1u << 0;
        internal const uint XdpFlagsSkbMode = 1u << 1;
        internal const uint XdpFlagsDrvMode = 1u << 2;
        internal const uint XdpFlagsReplace = 1u << 4;

        // XDP_ATTACHED_* as bpf_xdp_query reports them.
        internal const byte XdpAttachedNone = 0;
        internal const byte XdpAttachedDrv = 1;
        internal const byte XdpAttachedSkb = 2;
        internal const byte XdpAttachedHw = 3;
        internal const byte XdpAttachedMulti = 4;

        private const int BpfProgTypeXdp = 6;
        private const int ObjectNameLength = 16;

        /// <summary>
        /// bpf_xdp_attach (netlink): the attachment outlives the process until detached. With
        /// <paramref name="expectedProgram"/> the kernel replaces only that program (XDP_FLAGS_REPLACE).
        /// Returns 0 or the errno, for the caller to fall back (native → generic) or throw.
        /// </summary>
        internal static unsafe int TryAttachXdp(int ifindex, SafeBpfFdHandle program, uint flags, SafeBpfFdHandle? expectedProgram)
        {
            bool expectedAdded = false;
            try
            {
                // libbpf reads old_prog_fd 0 as "none" and anything else as XDP_FLAGS_REPLACE of that program.
                var options = new XdpAttachOptions { Size = (nuint)sizeof(XdpAttachOptions), OldProgramFd = 0 };
                if (expectedProgram is not null)
                {
                    expectedProgram.DangerousAddRef(ref expectedAdded);
                    options.OldProgramFd = (int)expectedProgram.DangerousGetHandle();
                }

                int result = XdpAttach(ifindex, program, flags, &options);
                return result < 0 ? Errnos.FromResult(result) : 0;
            }
            finally
            {
                if (expectedAdded)
                {
                    expectedProgram!.DangerousRelease();
                }
            }
        }

        /// <summary>bpf_xdp_detach of exactly <paramref name="expectedProgram"/> in the mode of <paramref name="flags"/>; 0 or the errno.</summary>
        internal static unsafe int TryDetachXdp(int ifindex, uint flags, SafeBpfFdHandle expectedProgram)
        {
            bool added = false;
            try
            {
                expectedProgram.DangerousAddRef(ref added);
                var options = new XdpAttachOptions
                {
                    Size = (nuint)sizeof(XdpAttachOptions),
                    OldProgramFd = (int)expectedProgram.DangerousGetHandle(),
                };
                int result = XdpDetach(ifindex, flags, &options);
                return result < 0 ? Errnos.FromResult(result) : 0;
            }
            finally
            {
                if (added)
                {
                    expectedProgram.DangerousRelease();
                }
            }
        }

        /// <summary>bpf_xdp_query: the XDP programs attached to <paramref name="ifindex"/>, per mode.</summary>
        internal static unsafe XdpQueryResult QueryXdp(int ifindex, string interfaceName)
        {
            var options = new XdpQueryOptions { Size = (nuint)sizeof(XdpQueryOptions) };
            int result = XdpQuery(ifindex, 0, &options);
            if (result < 0)
            {
                throw new BpfException($"bpf_xdp_query({interfaceName})", Errnos.FromResult(result));
            }

            return new XdpQueryResult(options.ProgramId, options.DriverProgramId, options.SkbProgramId, options.HardwareProgramId, options.AttachMode);
        }

        internal static SafeBpfFdHandle ProgramFdById(uint id)
        {
            int fd = ProgGetFdById(id);
            return fd >= 0 ? new SafeBpfFdHandle(fd) : throw new BpfException($"bpf_prog_get_fd_by_id({id})", Errnos.FromResult(fd));
        }

        internal static SafeBpfFdHandle MapFdById(uint id)
        {
            int fd = MapGetFdById(id);
            return fd >= 0 ? new SafeBpfFdHandle(fd) : throw new BpfException($"bpf_map_get_fd_by_id({id})", Errnos.FromResult(fd));
        }

        /// <summary>bpf_obj_get_info_by_fd for a program: id, name and the ids of the maps it uses.</summary>
        internal static unsafe BpfProgramInfo GetProgramInfo(SafeBpfFdHandle program)
        {
            // Twice: once for the number of maps, once with room for their ids.
            var info = default(ProgInfo);
            uint length = (uint)sizeof(ProgInfo);
            int result = ObjGetInfoByFd(program, &info, &length);
            if (result < 0)
            {
                throw new BpfException("bpf_obj_get_info_by_fd(program)", Errnos.FromResult(result));
            }

            uint[] mapIds = new uint[info.MapIdCount];
            if (mapIds.Length > 0)
            {
                fixed (uint* ids = mapIds)
                {
                    uint count = info.MapIdCount;
                    info = default;
                    info.MapIdCount = count;
                    info.MapIds = (ulong)ids;
                    length = (uint)sizeof(ProgInfo);
                    result = ObjGetInfoByFd(program, &info, &length);
                    if (result < 0)
                    {
                        throw new BpfException("bpf_obj_get_info_by_fd(program)", Errnos.FromResult(result));
                    }
                }
            }

            return new BpfProgramInfo(info.Id, info.Type, CString(info.Name, ObjectNameLength), mapIds.AsSpan(0, (int)Math.Min(info.MapIdCount, (uint)mapIds.Length)).ToArray());
        }

        /// <summary>bpf_obj_get_info_by_fd for a map.</summary>
        internal static unsafe BpfMapInfo GetMapInfo(SafeBpfFdHandle map)
        {
            var info = default(MapInfo);
            uint length = (uint)sizeof(MapInfo);
            int result = ObjGetInfoByFd(map, &info, &length);
            if (result < 0)
            {
                throw new BpfException("bpf_obj_get_info_by_fd(map)", Errnos.FromResult(result));
            }

            return new BpfMapInfo(info.Id, info.Type, info.KeySize, info.ValueSize, info.MaxEntries, CString(info.Name, ObjectNameLength));
        }

        /// <summary>BPF_PROG_TEST_RUN of one frame: the program's return value (an XDP action).</summary>
        internal static unsafe uint TestRun(SafeBpfFdHandle program, ReadOnlySpan<byte> frame)
        {
            fixed (byte* data = frame)
            {
                var options = new TestRunOptions
                {
                    Size = (nuint)sizeof(TestRunOptions),
                    DataIn = data,
                    DataSizeIn = (uint)frame.Length,
                    Repeat = 1,
                };
                int result = ProgTestRunOpts(program, &options);
                return result >= 0 ? options.ReturnValue : throw new BpfException("bpf_prog_test_run_opts", Errnos.FromResult(result));
            }
        }

        /// <summary>
        /// Loads a two-instruction XDP program that passes everything, named <paramref name="name"/>: another
        /// party's program, for tests of what the loader does when the interface is taken.
        /// </summary>
        internal static unsafe SafeBpfFdHandle LoadPassAllProgram(string name)
        {
            // r0 = XDP_PASS (2); exit. struct bpf_insn { u8 code; u8 dst:4, src:4; s16 off; s32 imm; }.
            ulong* instructions = stackalloc ulong[2];
            instructions[0] = 0xb7UL | (2UL << 32);
            instructions[1] = 0x95UL;
            using LogScope log = CaptureLog();
            int fd = ProgLoad(BpfProgTypeXdp, name, "GPL", instructions, 2, null);
            return fd >= 0 ? new SafeBpfFdHandle(fd) : throw new BpfException($"bpf_prog_load({name})", Errnos.FromResult(fd), log.Text);
        }

        private static unsafe string CString(byte* text, int capacity)
        {
            var span = new ReadOnlySpan<byte>(text, capacity);
            int end = span.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_xdp_attach")]
        private static unsafe partial int XdpAttach(int ifindex, SafeBpfFdHandle program, uint flags, XdpAttachOptions* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_xdp_detach")]
        private static unsafe partial int XdpDetach(int ifindex, uint flags, XdpAttachOptions* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_xdp_query")]
        private static unsafe partial int XdpQuery(int ifindex, int flags, XdpQueryOptions* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_prog_get_fd_by_id")]
        private static partial int ProgGetFdById(uint id);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map_get_fd_by_id")]
        private static partial int MapGetFdById(uint id);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_obj_get_info_by_fd")]
        private static unsafe partial int ObjGetInfoByFd(SafeBpfFdHandle fd, void* info, uint* length);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_prog_test_run_opts")]
        private static unsafe partial int ProgTestRunOpts(SafeBpfFdHandle program, TestRunOptions* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_prog_load", StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int ProgLoad(int type, string name, string license, ulong* instructions, nuint count, void* options);

        /// <summary>Mirrors libbpf's <c>struct bpf_xdp_attach_opts</c> (libbpf.h, 1.1).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct XdpAttachOptions
        {
            public nuint Size;
            public int OldProgramFd;
        }

        /// <summary>Mirrors libbpf's <c>struct bpf_xdp_query_opts</c> (libbpf.h, 1.1).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct XdpQueryOptions
        {
            public nuint Size;
            public uint ProgramId;
            public uint DriverProgramId;
            public uint HardwareProgramId;
            public uint SkbProgramId;
            public byte AttachMode;
        }

        /// <summary>Mirrors libbpf's <c>struct bpf_test_run_opts</c> (bpf.h, 1.1).</summary>
        [StructLayout(LayoutKind.Sequential)]
        private unsafe struct TestRunOptions
        {
            public nuint Size;
            public byte* DataIn;
            public byte* DataOut;
            public uint DataSizeIn;
            public uint DataSizeOut;
            public void* ContextIn;
            public void* ContextOut;
            public uint ContextSizeIn;
            public uint ContextSizeOut;
            public uint ReturnValue;
            public int Repeat;
            public uint Duration;
            public uint Flags;
            public uint Cpu;
            public uint BatchSize;
        }

        /// <summary>The head of the kernel's <c>struct bpf_prog_info</c> (uapi linux/bpf.h), up to <c>name</c>; the kernel fills what fits.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private unsafe struct ProgInfo
        {
            public uint Type;
            public uint Id;
            public fixed byte Tag[8];
            public uint JitedProgramLength;
            public uint TranslatedProgramLength;
            public ulong JitedProgramInstructions;
            public ulong TranslatedProgramInstructions;
            public ulong LoadTime;
            public uint CreatedByUid;
            public uint MapIdCount;
            public ulong MapIds;
            public fixed byte Name[ObjectNameLength];
        }

        /// <summary>The head of the kernel's <c>struct bpf_map_info</c> (uapi linux/bpf.h), up to <c>name</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private unsafe struct MapInfo
        {
            public uint Type;
            public uint Id;
            public uint KeySize;
            public uint ValueSize;
            public uint MaxEntries;
            public uint MapFlags;
            public fixed byte Name[ObjectNameLength];
        }
    }
}

/// <summary>What bpf_xdp_query reports for an interface: the program ids per mode (0 = none) and the mode in use.</summary>
internal readonly record struct XdpQueryResult(uint ProgramId, uint DriverProgramId, uint SkbProgramId, uint HardwareProgramId, byte AttachMode);

internal sealed record BpfProgramInfo(uint Id, uint Type, string Name, IReadOnlyList<uint> MapIds);

internal sealed record BpfMapInfo(uint Id, uint Type, uint KeySize, uint ValueSize, uint MaxEntries, string Name);
