using System.Net;

namespace Klais.Edge.Receive;

/// <summary>Settings of the UDP receive stage (design section 3, "UDP receive").</summary>
internal sealed class ReceiveOptions
{
    /// <summary>Where datagrams arrive (KLAIS_UDP_BIND). Port 0 picks a free port, shared by all receive threads.</summary>
    public IPEndPoint Endpoint { get; set; } = new(IPAddress.Any, 5000);

    /// <summary>Receive threads, each with its own SO_REUSEPORT socket. Default: one per core.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Datagrams per recvmmsg call.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// Bytes kept per datagram: 22-byte header plus payload. Longer datagrams are cut by the kernel and counted as
    /// <see cref="UdpReceiver.Truncated"/>; they still reach the handler, cut, so the parser rejects them.
    /// </summary>
    public int MaxDatagramBytes { get; set; } = 2048;

    /// <summary>SO_RCVBUF(FORCE) requested per socket; the kernel reports double (its bookkeeping overhead).</summary>
    public int ReceiveBufferBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How long a blocked recvmmsg waits before checking for <see cref="UdpReceiver.Stop"/>.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Batches a socket's receive thread may have filled ahead of its handler thread (the handoff), or 0 (the default)
    /// for no handoff: the receive thread then runs the handler itself. With a handoff each socket has two threads, one
    /// in recvmmsg (the kernel's copy) and one parsing, deduplicating, offering to the Dam and producing, so one busy
    /// socket (a relay in front of the edge) can use two cores instead of one. Off by default: on the benchmark machine
    /// it did not raise the rate (docs/BENCHMARKS.md, "Receive handoff") and it wakes a thread per batch.
    /// </summary>
    public int HandoffBatches { get; set; }

    /// <summary>Most batches a handoff may hold (<c>KLAIS_RECEIVE_HANDOFF</c>'s bound).</summary>
    public const int MaxHandoffBatches = 64;

    /// <summary>Datagrams a thread receives before it starts counting allocations (JIT tiering, first-call setup).</summary>
    public int WarmupDatagrams { get; set; } = 1;

    /// <summary>Every rule this instance breaks, each naming the setting, its value and the rule; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Endpoint is null)
        {
            errors.Add("`ReceiveOptions.Endpoint` is not set. It must be an IPv4 or IPv6 endpoint.");
        }
        else if (Endpoint.AddressFamily is not (System.Net.Sockets.AddressFamily.InterNetwork or System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            errors.Add($"`ReceiveOptions.Endpoint` is {Endpoint}. It must be an IPv4 or IPv6 endpoint.");
        }

        Require(errors, nameof(Threads), Threads, 1, 1024);
        Require(errors, nameof(BatchSize), BatchSize, 1, 1024);
        Require(errors, nameof(MaxDatagramBytes), MaxDatagramBytes, Contracts.Wire.Datagram.HeaderLength, 65535);
        Require(errors, nameof(ReceiveBufferBytes), ReceiveBufferBytes, 0, int.MaxValue / 2);
        Require(errors, nameof(WarmupDatagrams), WarmupDatagrams, 0, int.MaxValue);
        Require(errors, nameof(HandoffBatches), HandoffBatches, 0, MaxHandoffBatches);
        if (PollInterval < TimeSpan.FromMilliseconds(1) || PollInterval > TimeSpan.FromSeconds(10))
        {
            errors.Add($"`ReceiveOptions.PollInterval` is {PollInterval}. It must be between 1 ms and 10 s.");
        }

        return errors;
    }

    private static void Require(List<string> errors, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"`ReceiveOptions.{name}` is {value}. It must be between {min} and {max}.");
        }
    }
}
