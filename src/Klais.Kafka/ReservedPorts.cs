namespace Klais.Kafka;

/// <summary>
/// Keeps the kernel from handing out the mock brokers' ports as ephemeral ports while a cluster lives
/// (<c>/proc/sys/net/ipv4/ip_local_reserved_ports</c>; binding them explicitly still works). A broker going down
/// closes its listener and binds the port again at once; should another socket be given the port in between, that
/// bind fails and librdkafka's mock aborts the process. (The gap is short; the likelier cause of that abort, a child
/// process holding a copy of the listener, is what <see cref="KafkaDevCluster.ChildProcessGate"/> is for.) Needs root (the tests and the demo run as root); without it nothing is
/// reserved and the rare collision stays possible. The file is machine-wide: a lock file serialises the
/// read-change-write of every process, each reservation is recorded in a file named after its process, and the
/// reservations of processes that ended without releasing theirs (killed, or never disposed) are released by the
/// next reservation.
/// </summary>
internal static class ReservedPorts
{
    private const string ListPath = "/proc/sys/net/ipv4/ip_local_reserved_ports";
    private static readonly string Folder = Path.Combine(Path.GetTempPath(), "klais-reserved-ports");
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "klais-reserved-ports.lock");
    private static readonly Lock Gate = new();

    /// <summary>Reserves <paramref name="ports"/>; a token for <see cref="Remove"/>, null when nothing was reserved.</summary>
    public static string? Add(IReadOnlyList<int> ports)
    {
        string record = Path.Combine(Folder, $"{Environment.ProcessId}.{Guid.NewGuid():N}");
        return Change(reserved =>
        {
            ReleaseOrphans(reserved);
            List<int> added = [.. ports.Where(reserved.Add)];
            if (added.Count > 0)
            {
                Directory.CreateDirectory(Folder);
                File.WriteAllText(record, string.Join(',', added));
            }

            return added.Count > 0;
        }) ? record : null;
    }

    /// <summary>Releases what the <see cref="Add"/> that returned <paramref name="token"/> reserved.</summary>
    public static void Remove(string? token)
    {
        if (token is not null)
        {
            Change(reserved => Release(token, reserved));
        }
    }

    /// <summary>Reads the list, lets <paramref name="change"/> edit it, writes it when it says it changed; false without the right to.</summary>
    private static bool Change(Func<HashSet<int>, bool> change)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(ListPath))
        {
            return false;
        }

        lock (Gate)
        {
            try
            {
                using FileStream fileLock = LockFile();
                HashSet<int> reserved = Parse(File.ReadAllText(ListPath));
                if (!change(reserved))
                {
                    return false;
                }

                File.WriteAllText(ListPath, reserved.Count == 0 ? "\n" : string.Join(',', reserved.Order()));
                return true;
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                return false; // not root, or a read-only /proc: nothing reserved
            }
        }
    }

    /// <summary>Releases the reservations recorded by processes that no longer run.</summary>
    private static void ReleaseOrphans(HashSet<int> reserved)
    {
        if (!Directory.Exists(Folder))
        {
            return;
        }

        foreach (string record in Directory.GetFiles(Folder))
        {
            string name = Path.GetFileName(record);
            if (int.TryParse(name[..Math.Max(0, name.IndexOf('.', StringComparison.Ordinal))], out int pid) && !Directory.Exists($"/proc/{pid}"))
            {
                Release(record, reserved);
            }
        }
    }

    private static bool Release(string record, HashSet<int> reserved)
    {
        if (!File.Exists(record))
        {
            return false;
        }

        foreach (int port in Parse(File.ReadAllText(record)))
        {
            reserved.Remove(port);
        }

        File.Delete(record);
        return true;
    }

    /// <summary>The kernel's list (<c>8080,9000-9010</c>) as ports.</summary>
    internal static HashSet<int> Parse(string list)
    {
        var ports = new HashSet<int>();
        foreach (string token in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = token.Split('-');
            int first = int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
            int last = range.Length == 2 ? int.Parse(range[1], System.Globalization.CultureInfo.InvariantCulture) : first;
            for (int p = first; p <= last; p++)
            {
                ports.Add(p);
            }
        }

        return ports;
    }

    /// <summary>An exclusive lock on a file beside the other processes' (another process holding it: retried for up to 5 s).</summary>
    private static FileStream LockFile()
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 100)
            {
                Thread.Sleep(50);
            }
        }
    }
}
