using Klais.Edge.Configuration;

namespace Klais.Edge.Hosting;

/// <summary>
/// Where the edge is in its life: started, receiving, stopping; and the stop's one deadline, which every stop step
/// reads. The hosted services write it (<see cref="ReceiveService"/> marks receiving and begins the stop,
/// <see cref="DamService"/> begins the drain); the API and the metrics read it. No component depends on it.
/// </summary>
internal sealed class EdgeLifetime(EdgeConfig config, TimeProvider time) : IDisposable
{
    /// <summary>Time left after the stop steps for disposing the Kafka clients and the process's exit.</summary>
    internal static readonly TimeSpan ExitReserve = TimeSpan.FromSeconds(1.5);

    private readonly CancellationTokenSource _draining = new();
    private long _receivingSince;
    private long _deadline;
    private int _stopping;

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the edge was built (its uptime counts from here).</summary>
    public long StartedAt { get; } = time.GetTimestamp();

    /// <summary>The timestamp when the receive threads started (after klais.control was replayed); 0 before.</summary>
    public long ReceivingSince => Volatile.Read(ref _receivingSince);

    /// <summary>
    /// Ready for traffic: receiving and not stopping (<c>/health/ready</c>). False while klais.control is replayed at
    /// start (datagrams wait in the socket's buffer meanwhile) and from SIGTERM on.
    /// </summary>
    public bool IsReady => ReceivingSince != 0 && !IsStopping;

    /// <summary>True from the stop's first step (the receive threads stopping) on.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>
    /// Ends the background loops of delivery (the Dam's drainer, the circuit's monitor) when the stop reaches the
    /// Dam: from there the stop drains by itself, with a circuit that no longer changes under it.
    /// </summary>
    public CancellationToken Draining => _draining.Token;

    /// <summary>Seconds of uptime, to a tenth.</summary>
    public double UptimeSeconds => Math.Round(time.GetElapsedTime(StartedAt).TotalSeconds, 1);

    /// <summary>The receive threads started now.</summary>
    public void MarkReceiving() => Volatile.Write(ref _receivingSince, Math.Max(1, time.GetTimestamp()));

    /// <summary>
    /// Starts the stop's clock: every step from here shares one deadline, the shutdown timeout less
    /// <see cref="ExitReserve"/> (<see cref="StopBudget"/>). Once: later calls keep the first deadline.
    /// </summary>
    public void BeginStop()
    {
        long deadline = time.GetTimestamp() + (long)(StopBudget(config.ShutdownTimeout).TotalSeconds * time.TimestampFrequency);
        Interlocked.CompareExchange(ref _deadline, deadline, 0);
        Volatile.Write(ref _stopping, 1);
    }

    /// <summary>Time left until the stop's deadline; asked before any step began the stop, it begins it.</summary>
    public TimeSpan Remaining
    {
        get
        {
            BeginStop();
            long left = Volatile.Read(ref _deadline) - time.GetTimestamp();
            return TimeSpan.FromSeconds(Math.Max(0, left / (double)time.TimestampFrequency));
        }
    }

    /// <summary>Ends the background loops of delivery (<see cref="Draining"/>).</summary>
    public Task BeginDrainAsync() => _draining.CancelAsync();

    /// <summary>The stop steps' deadline for a shutdown timeout: the timeout less <see cref="ExitReserve"/>, at least half of it.</summary>
    internal static TimeSpan StopBudget(TimeSpan shutdownTimeout) =>
        shutdownTimeout - ExitReserve > shutdownTimeout / 2 ? shutdownTimeout - ExitReserve : shutdownTimeout / 2;

    internal static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public void Dispose() => _draining.Dispose();
}
