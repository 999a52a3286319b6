using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>
        /// bpf_object__open_mem over <paramref name="image"/>, which must stay at the same address until
        /// <see cref="LoadObject"/> has returned (libbpf reads the ELF in place).
        /// </summary>
        internal static unsafe SafeBpfObjectHandle DangerousOpenObject(byte* image, nuint length)
        {
            using LogScope log = CaptureLog();
            SafeBpfObjectHandle handle = ObjectOpenMem(image, length, null);
            if (handle.IsInvalid)
            {
                int errno = Marshal.GetLastPInvokeError();
                handle.Dispose();
                throw new BpfException("bpf_object__open_mem", errno, log.Text);
            }

            return handle;
        }

        /// <summary>bpf_object__load: creates the maps and loads (verifies) the programs. The verifier's log is in the exception.</summary>
        internal static void LoadObject(SafeBpfObjectHandle obj)
        {
            using LogScope log = CaptureLog();
            int result = ObjectLoad(obj);
            if (result < 0)
            {
                throw new BpfException("bpf_object__load", Errnos.FromResult(result), log.Text);
            }
        }

        internal static void CloseObject(nint obj) => ObjectClose(obj);

        /// <summary>A descriptor of the object's program <paramref name="name"/>, duplicated: it outlives the object.</summary>
        internal static SafeBpfFdHandle DuplicateProgramFd(SafeBpfObjectHandle obj, string name)
        {
            nint program = FindProgramByName(obj, name);
            if (program == 0)
            {
                throw new BpfException($"bpf_object__find_program_by_name({name})", Errnos.ENOENT);
            }

            return Libc.Duplicate(ProgramFd(program), $"bpf_program__fd({name})");
        }

        /// <summary>A descriptor of the object's map <paramref name="name"/>, duplicated: it outlives the object.</summary>
        internal static SafeBpfFdHandle DuplicateMapFd(SafeBpfObjectHandle obj, string name)
        {
            nint map = FindMapByName(obj, name);
            if (map == 0)
            {
                throw new BpfException($"bpf_object__find_map_by_name({name})", Errnos.ENOENT);
            }

            return Libc.Duplicate(MapFd(map), $"bpf_map__fd({name})");
        }

        /// <summary>The object's BTF (owned by the object), or 0 when it has none.</summary>
        internal static nint ObjectBtf(SafeBpfObjectHandle obj) => GetObjectBtf(obj);

        internal static int PossibleCpuCount()
        {
            int count = NumPossibleCpus();
            return count > 0 ? count : throw new BpfException("libbpf_num_possible_cpus", Errnos.FromResult(count));
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
        private static unsafe partial SafeBpfObjectHandle ObjectOpenMem(byte* buffer, nuint size, void* options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__load")]
        private static partial int ObjectLoad(SafeBpfObjectHandle obj);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__close")]
        private static partial void ObjectClose(nint obj);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint FindProgramByName(SafeBpfObjectHandle obj, string name);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_program__fd")]
        private static partial int ProgramFd(nint program);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint FindMapByName(SafeBpfObjectHandle obj, string name);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_map__fd")]
        private static partial int MapFd(nint map);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "bpf_object__btf")]
        private static partial nint GetObjectBtf(SafeBpfObjectHandle obj);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "libbpf_num_possible_cpus")]
        private static partial int NumPossibleCpus();
    }
}
