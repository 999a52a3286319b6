using Microsoft.Win32.SafeHandles;

namespace Klais.Xdp.Attach;

/// <summary>
/// A network namespace held open by a descriptor. Interface names, ifindexes and the netlink calls that attach
/// XDP belong to a namespace; <see cref="Run{T}"/> runs code on a short-lived thread that has entered this one
/// (setns changes only the calling thread), so the rest of the process stays where it is. Sockets and BPF
/// descriptors made there keep working from any thread.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private readonly SafeFileHandle _handle;

    private NetworkNamespace(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
        Identity = new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget ?? path;
    }

    /// <summary>Where it was opened from: a bind mount like /run/netns/NAME, or /proc/thread-self/ns/net.</summary>
    public string Path { get; }

    /// <summary>The kernel's name of the namespace, e.g. <c>net:[4026531840]</c>: equal for equal namespaces.</summary>
    public string Identity { get; }

    /// <summary>Whether the calling thread is in this namespace.</summary>
    public bool IsCurrent => CurrentIdentity() == Identity;

    /// <summary>The namespace at <paramref name="path"/> (e.g. /run/netns/NAME, as made by <c>ip netns add NAME</c>).</summary>
    public static NetworkNamespace Open(string path) =>
        new(File.OpenHandle(path, FileMode.Open, FileAccess.Read), path);

    /// <summary>The calling thread's namespace.</summary>
    public static NetworkNamespace Current() => Open("/proc/thread-self/ns/net");

    /// <summary>The kernel's name of the calling thread's namespace.</summary>
    public static string CurrentIdentity() => new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? string.Empty;

    /// <summary>Runs <paramref name="action"/> in this namespace: in place when the caller is there already, else on a thread that enters it.</summary>
    public T Run<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (IsCurrent)
        {
            return action();
        }

        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Interop.Libc.EnterNetworkNamespace(_handle, Path);
                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "klais-netns",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    public void Run(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Run<bool>(() =>
        {
            action();
            return true;
        });
    }

    public void Dispose() => _handle.Dispose();
}
