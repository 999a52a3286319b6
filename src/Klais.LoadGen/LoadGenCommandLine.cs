using System.CommandLine;
using System.Globalization;
using System.Net;

namespace Klais.LoadGen;

/// <summary>
/// The command line of <c>klais-loadgen</c>. Values are read as text and converted here, so that every problem
/// (unknown option, unreadable number, broken rule) is listed at once.
/// </summary>
internal sealed class LoadGenCommandLine
{
    private readonly Option<string> _target = Text("--target", "Where to send: IPv4 or IPv6 address and port, e.g. 127.0.0.1:5000 or [::1]:5000.", "127.0.0.1:5000");
    private readonly Option<string> _devices = Text("--devices", "Number of devices (ids dev-000001 …).", "1000");
    private readonly Option<string> _firstDevice = Text("--first-device", "Number of the first device id (7 starts at dev-000007).", "1");
    private readonly Option<string> _rate = Text("--rate", "Datagrams per second over all devices; 0 = as fast as possible.", "0");
    private readonly Option<string> _count = Text("--count", "Stop after this many datagrams.", null);
    private readonly Option<string> _duration = Text("--duration", "Stop after this many seconds.", null);
    private readonly Option<string> _badShare = Text("--bad-share", "Share of malformed datagrams (evenly: too short, bad magic, bad device id, invalid JSON).", "0");
    private readonly Option<string> _replayShare = Text("--replay-share", "Share of datagrams that resend an already sent sequence (duplicates).", "0");
    private readonly Option<string> _payloadBytes = Text("--payload-bytes", "Size of the JSON payload of a valid datagram.", "64");
    private readonly Option<string> _batch = Text("--batch", "Datagrams per sendmmsg call.", "64");
    private readonly Option<string> _startSeq = Text("--start-seq", "First sequence number of every device.", "1");
    private readonly Option<string> _stormDevices = Text("--storm-devices", "Reconnect storm: devices offline until --storm-at, then each flushes its buffered history while the live traffic goes on (ids after the live devices'); 0 = no storm.", "0");
    private readonly Option<string> _stormAt = Text("--storm-at", "Seconds from the start when the storm's devices reconnect.", "10");
    private readonly Option<string> _stormHistory = Text("--storm-history", "Buffered records each storm device flushes (sequences from --start-seq up, old timestamps).", "10");
    private readonly Option<string> _stormRate = Text("--storm-rate", "Datagrams per second of the flush over all storm devices; 0 = as fast as possible.", "0");
    private readonly Option<string> _stormInterval = Text("--storm-interval", "Seconds between two buffered readings of a storm device (the newest is this old at the flush).", "1");
    private readonly Option<string> _sources = Text("--sources", "Source addresses to send from, a batch each in turn: 1 = the kernel's choice; N = 127.1.0.1 … (loopback targets only).", "1");

    public LoadGenCommandLine()
    {
        Root = new RootCommand("KLAIS load generator: sends telemetry datagrams (with a known share of bad ones and replays) over UDP.")
        {
            _target, _devices, _firstDevice, _rate, _count, _duration, _badShare, _replayShare, _payloadBytes, _batch, _startSeq, _sources,
            _stormDevices, _stormAt, _stormHistory, _stormRate, _stormInterval,
        };
    }

    public RootCommand Root { get; }

    /// <summary>
    /// Whether the arguments ask for help or the version: the root command has no action of its own, so any action
    /// without parse errors is one of those; invoke the parse result instead of running.
    /// </summary>
    public static bool IsInformational(ParseResult parsed) => parsed.Errors.Count == 0 && parsed.Action is not null;

    /// <summary>Options from the parsed arguments, or null and every problem found.</summary>
    public LoadGeneratorOptions? Parse(ParseResult parsed, out List<string> errors)
    {
        errors = parsed.Errors.Select(e => e.Message).ToList();
        var options = new LoadGeneratorOptions
        {
            Target = ConvertEndPoint(parsed, _target, errors) ?? new IPEndPoint(IPAddress.Loopback, 0),
            Devices = Convert(parsed, _devices, errors, ParseInt, "a whole number") ?? 0,
            FirstDevice = Convert(parsed, _firstDevice, errors, ParseInt, "a whole number") ?? 0,
            Rate = Convert(parsed, _rate, errors, ParseDouble, "a number") ?? 0,
            Count = Convert(parsed, _count, errors, ParseLong, "a whole number"),
            Duration = Convert(parsed, _duration, errors, ParseSeconds, "a number of seconds") is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            BadShare = Convert(parsed, _badShare, errors, ParseDouble, "a number between 0 and 1") ?? 0,
            ReplayShare = Convert(parsed, _replayShare, errors, ParseDouble, "a number between 0 and 1") ?? 0,
            PayloadBytes = Convert(parsed, _payloadBytes, errors, ParseInt, "a whole number") ?? 0,
            Batch = Convert(parsed, _batch, errors, ParseInt, "a whole number") ?? 0,
            StartSequence = Convert(parsed, _startSeq, errors, ParseUInt, "a whole number from 0 to 4294967295") ?? 0,
            Sources = Convert(parsed, _sources, errors, ParseInt, "a whole number") ?? 0,
            StormDevices = Convert(parsed, _stormDevices, errors, ParseInt, "a whole number") ?? 0,
            StormAt = TimeSpan.FromSeconds(Convert(parsed, _stormAt, errors, ParseSeconds, "a number of seconds") ?? 0),
            StormHistory = Convert(parsed, _stormHistory, errors, ParseInt, "a whole number") ?? 0,
            StormRate = Convert(parsed, _stormRate, errors, ParseDouble, "a number") ?? 0,
            StormInterval = TimeSpan.FromSeconds(Convert(parsed, _stormInterval, errors, ParseSeconds, "a number of seconds") ?? 0),
        };

        // Rules are checked only for values that could be read, so one typo is not reported twice.
        foreach (string error in options.Validate())
        {
            if (!errors.Exists(e => e.StartsWith(error[..error.IndexOf(' ', StringComparison.Ordinal)], StringComparison.Ordinal)))
            {
                errors.Add(error);
            }
        }

        return errors.Count == 0 ? options : null;
    }

    private static T? Convert<T>(ParseResult parsed, Option<string> option, List<string> errors, Func<string, T?> convert, string expected)
        where T : struct
    {
        string? text = parsed.GetValue(option);
        if (text is null)
        {
            return null;
        }

        T? value = convert(text);
        if (value is null)
        {
            errors.Add($"`{option.Name}` is \"{text}\". It must be {expected}.");
        }

        return value;
    }

    private static IPEndPoint? ConvertEndPoint(ParseResult parsed, Option<string> option, List<string> errors)
    {
        string? text = parsed.GetValue(option);
        IPEndPoint? value = text is not null && IPEndPoint.TryParse(text, out IPEndPoint? endpoint) ? endpoint : null;
        if (text is not null && value is null)
        {
            errors.Add($"`{option.Name}` is \"{text}\". It must be an address and port like 127.0.0.1:5000 or [::1]:5000.");
        }

        return value;
    }

    private static int? ParseInt(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;

    private static long? ParseLong(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;

    private static uint? ParseUInt(string text) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint value) ? value : null;

    /// <summary>Seconds as a TimeSpan can hold them; negative values pass, for the rule to name them.</summary>
    private static double? ParseSeconds(string text) =>
        ParseDouble(text) is { } seconds && Math.Abs(seconds) < TimeSpan.MaxValue.TotalSeconds / 2 ? seconds : null;

    private static double? ParseDouble(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value : null;

    private static Option<string> Text(string name, string description, string? defaultValue)
    {
        var option = new Option<string>(name) { Description = description };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        return option;
    }
}
