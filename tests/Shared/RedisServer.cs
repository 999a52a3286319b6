using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Klais.Testing;

/// <summary>
/// A real <c>redis-server</c> (Debian's, installed by scripts/setup.sh) on a free loopback port with a folder of its
/// own, append-only file on, started and stopped by its PID. <see cref="Stop"/> and <see cref="Start"/> take it away
/// and bring it back on the same port and data, as an outage would.
/// </summary>
internal sealed class RedisServer : IDisposable
{
    private readonly string _dir;
    private Process? _process;

    public RedisServer()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"klais-redis-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        Port = FreePorts.Next();
        Start();
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string KLAIS_REDIS takes.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public void Start()
    {
        ProcessStartInfo info = ChildProcess.Info("redis-server", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", _dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no", "--logfile", "redis.log");
        _process = ChildProcess.Start(info);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!Ping())
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                string log = File.Exists(Path.Combine(_dir, "redis.log")) ? File.ReadAllText(Path.Combine(_dir, "redis.log")) : "";
                throw new InvalidOperationException($"redis-server on port {Port} did not answer PING: {log}");
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>SIGKILL and wait, as a crash: the port stays ours to start again on the same data.</summary>
    public void Stop()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: false); // SIGKILL: a crash; up to a second of appendfsync everysec may be lost
            p.WaitForExit(10_000);
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>SIGTERM (a clean shutdown, the append-only file flushed) and wait.</summary>
    public void Terminate()
    {
        if (_process is { HasExited: false } p)
        {
            using Process kill = ChildProcess.Run(new ProcessStartInfo("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
            kill.WaitForExit();
            if (!p.WaitForExit(10_000))
            {
                p.Kill();
                p.WaitForExit(10_000);
            }
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>True when a PING on a fresh connection is answered with PONG.</summary>
    public bool Ping()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            client.ReceiveTimeout = 1000;
            NetworkStream stream = client.GetStream();
            stream.Write("PING\r\n"u8);
            byte[] buffer = new byte[16];
            int read = stream.Read(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Sends one command (inline protocol) and returns the first line of the answer.</summary>
    public string Command(string command)
    {
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, Port);
        NetworkStream stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(command + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return reader.ReadLine() ?? "";
    }

    /// <summary>Sends one command and returns the line of its (multi-line) answer that starts with <paramref name="prefix"/>, or "".</summary>
    public string CommandLine(string command, string prefix)
    {
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, Port);
        NetworkStream stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes(command + "\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string? header = reader.ReadLine(); // $<length> of a bulk string
        if (header is null || !header.StartsWith('$') || !int.TryParse(header[1..], out int length) || length <= 0)
        {
            return "";
        }

        char[] body = new char[length];
        int read = 0;
        while (read < length)
        {
            int n = reader.Read(body, read, length - read);
            if (n <= 0)
            {
                break;
            }

            read += n;
        }

        return new string(body, 0, read).Split("\r\n").FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) ?? "";
    }

    public void Dispose()
    {
        Terminate();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
