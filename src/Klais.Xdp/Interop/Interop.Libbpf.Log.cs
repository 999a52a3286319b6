using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Klais.Xdp;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        // libbpf prints a failed load's verifier log as one message; what is kept of it is bounded by MaxLogChars.
        private const int LogMessageBytes = 1 << 20;
        private const int MaxLogChars = 256 * 1024;

        // libbpf prints through one process-wide callback. Its messages (the verifier's log above all) are wanted
        // in the exception of the call that failed, so they are collected per thread while a call runs under
        // CaptureLog() and dropped otherwise (libbpf's default would write them to our stderr).
        [ThreadStatic]
        private static StringBuilder? t_log;
        private static int s_printInstalled;

        /// <summary>Collects what libbpf prints on this thread until the scope is disposed.</summary>
        internal static LogScope CaptureLog()
        {
            unsafe
            {
                if (Interlocked.Exchange(ref s_printInstalled, 1) == 0)
                {
                    SetPrint(&Print);
                }
            }

            return new LogScope();
        }

        [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
        private static unsafe int Print(int level, byte* format, nint args)
        {
            StringBuilder? log = t_log;
            if (log is null || log.Length > MaxLogChars)
            {
                return 0;
            }

            // va_list is passed by reference on x86-64 and arm64 Linux, so the pointer goes on to vsnprintf as is.
            // It can be used once only, so the buffer is big enough for a whole verifier log in one message.
            byte* text = (byte*)NativeMemory.Alloc(LogMessageBytes);
            try
            {
                int written = Libc.FormatVarArgs(text, LogMessageBytes, format, args);
                if (written > 0)
                {
                    log.Append(Encoding.UTF8.GetString(text, Math.Min(written, LogMessageBytes - 1)));
                }
            }
            finally
            {
                NativeMemory.Free(text);
            }

            return 0;
        }

        [LibraryImport(Libraries.Libbpf, EntryPoint = "libbpf_set_print")]
        private static unsafe partial nint SetPrint(delegate* unmanaged[Cdecl]<int, byte*, nint, int> print);

        /// <summary>What libbpf printed on this thread since <see cref="CaptureLog"/>.</summary>
        internal sealed class LogScope : IDisposable
        {
            private readonly StringBuilder? _previous = t_log;
            private readonly StringBuilder _log = new();

            public LogScope() => t_log = _log;

            public string Text => _log.ToString();

            public void Dispose() => t_log = _previous;
        }
    }
}
