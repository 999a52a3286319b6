namespace Klais.Net;

internal static partial class Interop
{
    /// <summary>Names of the native libraries imported; one place, so a port changes one line.</summary>
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
