using System.Runtime.InteropServices;
using Klais.Net;

namespace Klais.Xdp.Native;

/// <summary>
/// The compiled XDP object (bpf/build/klais_xdp.bpf.o), embedded in this assembly at build time, and the one way
/// to open it with libbpf: from a native copy that stays put while libbpf reads the ELF in place.
/// </summary>
internal static class BpfObjectImage
{
    /// <summary>The embedded object's bytes.</summary>
    public static byte[] Embedded()
    {
        using Stream stream = typeof(BpfObjectImage).Assembly.GetManifestResourceStream(BpfNames.ObjectResource)
            ?? throw new InvalidOperationException($"The assembly has no embedded {BpfNames.ObjectResource}: build Klais.Xdp with make available.");
        byte[] image = new byte[stream.Length];
        stream.ReadExactly(image);
        return image;
    }

    /// <summary>The object at <paramref name="path"/>, or the embedded one when <paramref name="path"/> is null.</summary>
    public static byte[] Read(string? path) => path is null ? Embedded() : File.ReadAllBytes(path);

    /// <summary>Opens <paramref name="image"/> with bpf_object__open_mem, runs <paramref name="use"/>, closes it.</summary>
    public static unsafe T WithOpenObject<T>(byte[] image, Func<SafeBpfObjectHandle, T> use)
    {
        nuint length = (nuint)image.Length;
        byte* copy = (byte*)NativeMemory.Alloc(length);
        try
        {
            image.CopyTo(new Span<byte>(copy, image.Length));
            using SafeBpfObjectHandle obj = Interop.Libbpf.DangerousOpenObject(copy, length);
            return use(obj);
        }
        finally
        {
            NativeMemory.Free(copy);
        }
    }

    /// <summary>The layout of struct <paramref name="name"/> as the object's BTF has it, or null when absent.</summary>
    public static BtfStruct? FindStruct(byte[] image, string name) =>
        WithOpenObject(image, obj =>
        {
            nint btf = Interop.Libbpf.ObjectBtf(obj);
            return btf == 0 ? throw new BpfException("bpf_object__btf", Errnos.ENOENT) : Interop.Libbpf.FindBtfStruct(btf, name);
        });
}
