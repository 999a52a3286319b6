namespace Klais.Xdp;

internal static partial class Interop
{
    /// <summary>Names of the native libraries imported; one place, so a port changes one line.</summary>
    internal static class Libraries
    {
        /// <summary>Debian's libbpf1 (1.1.x). The soname, so no -dev package is needed at run time.</summary>
        internal const string Libbpf = "libbpf.so.1";

        internal const string Libc = Klais.Net.Interop.Libraries.Libc;
    }
}
