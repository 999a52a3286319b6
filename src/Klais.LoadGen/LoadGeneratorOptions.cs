using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Klais.LoadGen;

/// <summary>What the load generator sends, where and how fast.</summary>
internal sealed record LoadGeneratorOptions
{
    /// <summary>Smallest payload the generator writes: <c>{"t":21.5,"h":40,"pad":""}</c>.</summary>
    public const int MinPayloadBytes = 26;

    /// <summary>Largest UDP payload over IPv4 (65,507) less the 22-byte header.</summary>
    public const int MaxPayloadBytes = 65_485;

    public IPEndPoint Target { get; init; } = new(IPAddress.Loopback, 5000);

    /// <summary>Device ids <c>dev-000001</c> … ; valid datagrams go to them round-robin.</summary>
    public int Devices { get; init; } = 1000;

    /// <summary>Datagrams per second over all devices; 0 sends as fast as the socket takes them.</summary>
    public double Rate { get; init; }

    /// <summary>Stop after this many datagrams (null: no limit).</summary>
    public long? Count { get; init; }

    /// <summary>Stop after this long (null: no limit).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Share of malformed datagrams, split evenly over too short, bad magic, bad device id, invalid JSON.</summary>
    public double BadShare { get; init; }

    /// <summary>Share of datagrams that resend the latest valid (device, sequence): duplicates.</summary>
    public double ReplayShare { get; init; }

    /// <summary>Length of the JSON payload of a valid datagram.</summary>
    public int PayloadBytes { get; init; } = 64;

    /// <summary>Datagrams per sendmmsg call (and the burst the pacing allows).</summary>
    public int Batch { get; init; } = 64;

    /// <summary>Number of the first device id: devices are dev-(first) … dev-(first + devices - 1).</summary>
    public int FirstDevice { get; init; } = 1;

    /// <summary>First sequence number of every device.</summary>
    public uint StartSequence { get; init; } = 1;

    /// <summary>
    /// Source addresses to send from, batch by batch in turn: 1 = the one the kernel picks; more = 127.1.0.1, 127.1.0.2, …
    /// (all of 127.0.0.0/8 reaches the loopback interface, so only a loopback IPv4 target can be reached from them).
    /// </summary>
    public int Sources { get; init; } = 1;

    /// <summary>
    /// Reconnect storm (0: none): this many devices, offline until <see cref="StormAt"/>, then each flushes
    /// <see cref="StormHistory"/> buffered records (<see cref="ReconnectStorm"/>) while the live traffic goes on. Their ids
    /// follow the live devices': dev-(first + devices) … .
    /// </summary>
    public int StormDevices { get; init; }

    /// <summary>When the storm starts, from the start of the run.</summary>
    public TimeSpan StormAt { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Buffered records each storm device flushes.</summary>
    public int StormHistory { get; init; } = 10;

    /// <summary>Datagrams per second of the flush over all storm devices; 0: as fast as the socket takes them.</summary>
    public double StormRate { get; init; }

    /// <summary>Time between two buffered readings of a storm device (their timestamps).</summary>
    public TimeSpan StormInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The addresses <see cref="Sources"/> stands for; empty when the kernel picks.</summary>
    public IReadOnlyList<IPAddress> SourceAddresses() =>
        Sources <= 1 ? [] : [.. Enumerable.Range(1, Sources).Select(i => new IPAddress(new byte[] { 127, 1, (byte)(i >> 8), (byte)i }))];

    /// <summary>Every rule broken, each naming the setting, its value and the rule; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Target is null || Target.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) || Target.Port == 0)
        {
            errors.Add($"`--target` is {Show(Target)}. It must be an IPv4 or IPv6 address with a port other than 0.");
        }

        if (Devices is < 1 or > 999_999)
        {
            errors.Add($"`--devices` is {Devices}. It must be between 1 and 999999 (ids are dev-000001 … dev-999999).");
        }
        else if (FirstDevice < 1 || FirstDevice > 1_000_000 - Devices)
        {
            errors.Add($"`--first-device` is {FirstDevice} with `--devices` {Devices}. The ids must stay within dev-000001 … dev-999999.");
        }

        if (!double.IsFinite(Rate) || Rate < 0)
        {
            errors.Add($"`--rate` is {Show(Rate)}. It must be 0 (as fast as possible) or a positive number of datagrams per second.");
        }

        if (Count is < 1)
        {
            errors.Add($"`--count` is {Count}. It must be at least 1.");
        }

        if (Duration is { } duration && duration <= TimeSpan.Zero)
        {
            errors.Add($"`--duration` is {Show(duration.TotalSeconds)}. It must be more than 0 seconds.");
        }

        RequireShare(errors, "--bad-share", BadShare);
        RequireShare(errors, "--replay-share", ReplayShare);
        if (BadShare + ReplayShare > 1)
        {
            errors.Add($"`--bad-share` + `--replay-share` is {Show(BadShare + ReplayShare)}. Together they must be at most 1.");
        }

        if (PayloadBytes is < MinPayloadBytes or > MaxPayloadBytes)
        {
            errors.Add($"`--payload-bytes` is {PayloadBytes}. It must be between {MinPayloadBytes} and {MaxPayloadBytes}.");
        }

        if (Batch is < 1 or > 1024)
        {
            errors.Add($"`--batch` is {Batch}. It must be between 1 and 1024 (UIO_MAXIOV).");
        }

        if (Sources is < 1 or > 1000)
        {
            errors.Add($"`--sources` is {Sources}. It must be between 1 and 1000.");
        }
        else if (Sources > 1 && Target is not null && !(Target.AddressFamily == AddressFamily.InterNetwork && IPAddress.IsLoopback(Target.Address)))
        {
            errors.Add($"`--sources` is {Sources} with `--target` {Show(Target)}. Several sources are loopback addresses (127.1.0.x): the target must be an IPv4 loopback address.");
        }

        if (StormDevices != 0)
        {
            ValidateStorm(errors);
        }

        return errors;
    }

    private void ValidateStorm(List<string> errors)
    {
        if (StormDevices < 0 || StormDevices > 999_999 - Math.Max(0, FirstDevice + Devices - 1))
        {
            errors.Add($"`--storm-devices` is {StormDevices} with `--first-device` {FirstDevice} and `--devices` {Devices}. The storm's devices follow the live ones: the ids must stay within dev-000001 … dev-999999.");
        }

        if (StormAt < TimeSpan.Zero || Duration is { } d && StormAt >= d)
        {
            errors.Add($"`--storm-at` is {Show(StormAt.TotalSeconds)}. It must be at least 0 seconds and before `--duration` ends.");
        }

        if (StormHistory is < 1 or > 1_000_000)
        {
            errors.Add($"`--storm-history` is {StormHistory}. It must be between 1 and 1000000 records per device.");
        }

        if (!double.IsFinite(StormRate) || StormRate < 0)
        {
            errors.Add($"`--storm-rate` is {Show(StormRate)}. It must be 0 (as fast as possible) or a positive number of datagrams per second.");
        }

        if (StormInterval < TimeSpan.FromMilliseconds(1) || StormInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"`--storm-interval` is {Show(StormInterval.TotalSeconds)}. It must be from 0.001 to 86400 seconds.");
        }

        if (Rate == 0)
        {
            errors.Add($"`--rate` is 0 with `--storm-devices` {StormDevices}. A storm runs beside paced live traffic: the live rate must be above 0.");
        }

        if (Duration is null)
        {
            errors.Add($"`--duration` is not set with `--storm-devices` {StormDevices}. A run with a storm needs one.");
        }

        if (PayloadBytes < ReconnectStorm.MinPayloadBytes)
        {
            errors.Add($"`--payload-bytes` is {PayloadBytes} with `--storm-devices`. It must be at least {ReconnectStorm.MinPayloadBytes} (the buffered records carry their timestamp).");
        }
    }

    private static void RequireShare(List<string> errors, string name, double value)
    {
        if (!double.IsFinite(value) || value < 0 || value > 1)
        {
            errors.Add($"`{name}` is {Show(value)}. It must be between 0 and 1.");
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "not set",
        double d => d.ToString(CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "not set",
    };
}
