using System.Runtime.InteropServices;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        private const uint BtfKindStruct = 4;

        /// <summary>The struct <paramref name="name"/> in <paramref name="btf"/> (a <c>struct btf *</c>): size and members.</summary>
        internal static unsafe BtfStruct? FindBtfStruct(nint btf, string name)
        {
            int id = FindByNameKind(btf, name, BtfKindStruct);
            if (id <= 0)
            {
                return null;
            }

            // struct btf_type { u32 name_off; u32 info; u32 size; } followed by vlen x struct btf_member
            // { u32 name_off; u32 type; u32 offset; } (uapi linux/btf.h).
            uint* type = (uint*)TypeById(btf, (uint)id);
            uint info = type[1];
            int vlen = (int)(info & 0xffff);
            bool bitfieldOffsets = (info >> 31) != 0;
            var members = new List<BtfMember>(vlen);
            uint* member = type + 3;
            for (int i = 0; i < vlen; i++, member += 3)
            {
                string memberName = Marshal.PtrToStringUTF8(NameByOffset(btf, member[0])) ?? string.Empty;
                uint offsetBits = bitfieldOffsets ? member[2] & 0xffffff : member[2];
                long size = ResolveSize(btf, member[1]);
                members.Add(new BtfMember(memberName, (int)(offsetBits / 8), (int)size));
            }

            return new BtfStruct(name, (int)type[2], members);
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
        private static partial int FindByNameKind(nint btf, string name, uint kind);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "btf__type_by_id")]
        private static partial nint TypeById(nint btf, uint id);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "btf__name_by_offset")]
        private static partial nint NameByOffset(nint btf, uint offset);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "btf__resolve_size")]
        private static partial long ResolveSize(nint btf, uint id);
    }
}

/// <summary>A struct as the compiled object's BTF describes it.</summary>
internal sealed record BtfStruct(string Name, int Size, IReadOnlyList<BtfMember> Members);

/// <summary>A member of a <see cref="BtfStruct"/>: byte offset and size.</summary>
internal sealed record BtfMember(string Name, int Offset, int Size);
