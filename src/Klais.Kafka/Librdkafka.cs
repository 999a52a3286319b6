using System.Runtime.InteropServices;

namespace Klais.Kafka;

/// <summary>
/// Points Confluent.Kafka 1.9.3 at Debian's librdkafka (package <c>librdkafka1</c>) instead of the
/// librdkafka.redist package, which our feed does not have. Call <see cref="EnsureLoaded"/> before
/// building any Confluent producer, consumer or admin client; <see cref="KafkaDevCluster"/> and
/// <see cref="TopicReader"/> call it themselves.
/// </summary>
public static class Librdkafka
{
    /// <summary>The soname the loader resolves (Debian installs it in /usr/lib/&lt;triplet&gt;/).</summary>
    public const string SoName = Interop.Libraries.Rdkafka;

    private static readonly Lock Gate = new();
    private static IntPtr _handle;

    /// <summary>
    /// Loads <c>librdkafka.so.1</c> through the dynamic loader and hands it to Confluent.Kafka.
    /// Idempotent and thread-safe. Throws <see cref="DllNotFoundException"/> naming the Debian package
    /// when the library is missing.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (Volatile.Read(ref _handle) != IntPtr.Zero)
        {
            return;
        }

        lock (Gate)
        {
            if (_handle != IntPtr.Zero)
            {
                return;
            }

            if (!NativeLibrary.TryLoad(SoName, out IntPtr handle))
            {
                throw new DllNotFoundException(
                    $"Kafka needs the native library {SoName}, which the loader cannot find. "
                    + "Install the Debian package librdkafka1 (apt-get install librdkafka1; scripts/setup.sh does it).");
            }

            // Confluent.Kafka imports "librdkafka" (and variants) and, to honour Library.Load, dlopen from
            // "libdl". On Debian neither unversioned name exists without -dev packages, so both are
            // answered here: librdkafka with the handle loaded above, libdl with glibc's libdl.so.2.
            NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, (name, _, _) => Resolve(name, handle));
            Confluent.Kafka.Library.Load(SoName);
            Volatile.Write(ref _handle, handle);
        }
    }

    /// <summary>The version librdkafka reports, e.g. "2.0.2".</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Confluent.Kafka.Library.VersionString;
        }
    }

    private static IntPtr Resolve(string name, IntPtr rdkafka)
    {
        if (name.EndsWith("librdkafka", StringComparison.Ordinal))
        {
            return rdkafka;
        }

        if (name == "libdl" && NativeLibrary.TryLoad("libdl.so.2", out IntPtr libdl))
        {
            return libdl;
        }

        return IntPtr.Zero;
    }
}
