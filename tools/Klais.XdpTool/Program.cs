using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Klais.Xdp;

namespace Klais.XdpTool;

/// <summary>
/// klais-xdp: attach|detach|stats|block|unblock|blocklist|limit|unlimit|events for the XDP filter on an interface
/// (the edge's own, or one attached by this tool), and flood for scripts/bench-xdp.sh. Needs root (docs/xdp.md).
/// Exit codes: 0 done, 1 the operation failed (message on stderr), 2 bad arguments.
/// </summary>
internal static class Program
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private static readonly Option<string> Interface = new("--iface") { Description = "Network interface with the filter.", Required = true };
    private static readonly Option<string?> Namespace = new("--netns") { Description = "Network namespace path, e.g. /run/netns/edge (default: this process's)." };
    private static readonly Option<string?> Device = new("--device") { Description = "Device id text (as in the datagram, up to 16 bytes)." };
    private static readonly Option<string?> Key = new("--key") { Description = "Device key as 16 hex digits (instead of --device)." };

    public static int Main(string[] args)
    {
        var root = new RootCommand("klais-xdp: the KLAIS XDP filter on an interface.")
        {
            AttachCommand(), DetachCommand(), StatsCommand(), BlockCommand(), UnblockCommand(), BlocklistCommand(),
            LimitCommand(), UnlimitCommand(), EventsCommand(), FloodCommand(),
        };
        return root.Parse(args).Invoke();
    }

    private static Command AttachCommand()
    {
        var mode = new Option<XdpMode>("--mode") { Description = "auto | native | generic.", DefaultValueFactory = _ => XdpMode.Auto };
        var ports = new Option<ushort[]>("--port") { Description = "UDP port(s) to inspect.", DefaultValueFactory = _ => [5000], AllowMultipleArgumentsPerToken = true };
        var rate = new Option<ulong>("--default-rate") { Description = "Tokens per second per device without an override; 0 = no limit." };
        var burst = new Option<ulong>("--default-burst") { Description = "Bucket size per device without an override." };
        var command = new Command("attach", "Load and attach the filter; it stays attached after this tool exits (replaces a stale KLAIS program).")
        {
            Interface, Namespace, mode, ports, rate, burst,
        };
        command.SetAction(parsed => Run(() =>
        {
            using XdpFilter filter = XdpFilter.Attach(new XdpOptions
            {
                Interface = parsed.GetValue(Interface)!,
                NetworkNamespace = parsed.GetValue(Namespace),
                Mode = parsed.GetValue(mode),
                Ports = parsed.GetValue(ports)!,
                Parameters = new XdpParameters { DefaultRefillRate = parsed.GetValue(rate), DefaultMaxTokens = parsed.GetValue(burst) },
                DetachOnDispose = false,
                EventChannelCapacity = 0,
            });
            Print(filter.Attachment);
        }));
        return command;
    }

    private static Command DetachCommand()
    {
        var command = new Command("detach", "Detach the KLAIS program from the interface (whoever attached it).") { Interface, Namespace };
        command.SetAction(parsed => Run(() =>
        {
            bool detached = XdpFilter.Detach(parsed.GetValue(Interface)!, parsed.GetValue(Namespace));
            Print(new { detached });
        }));
        return command;
    }

    private static Command StatsCommand()
    {
        var command = new Command("stats", "Counters per outcome, summed over CPUs (JSON).") { Interface, Namespace };
        command.SetAction(parsed => WithFilter(parsed, filter =>
        {
            XdpStatistics s = filter.ReadStatistics();
            Print(new
            {
                passed = s.Passed,
                dropped_size = s.DroppedSize,
                dropped_magic = s.DroppedMagic,
                dropped_blocked = s.DroppedBlocked,
                dropped_rate = s.DroppedRate,
                not_klais = s.NotKlais,
                dropped = s.Dropped,
                events_lost = s.EventsLost,
                mode = filter.Attachment.Mode,
                program_id = filter.Attachment.ProgramId,
            });
        }));
        return command;
    }

    private static Command BlockCommand()
    {
        var ttl = new Option<double?>("--ttl") { Description = "Seconds until the block expires (default: until unblocked)." };
        var reason = new Option<uint>("--reason") { Description = "Reason code carried into events." };
        var command = new Command("block", "Drop every packet of a device.") { Interface, Namespace, Device, Key, ttl, reason };
        command.SetAction(parsed => WithFilter(parsed, filter =>
        {
            ulong key = DeviceKeyOf(parsed);
            TimeSpan? live = parsed.GetValue(ttl) is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
            filter.Block(key, live, parsed.GetValue(reason));
            Print(new { blocked = Hex(key) });
        }));
        return command;
    }

    private static Command UnblockCommand()
    {
        var command = new Command("unblock", "Remove a device from the blocklist.") { Interface, Namespace, Device, Key };
        command.SetAction(parsed => WithFilter(parsed, filter => Print(new { unblocked = filter.Unblock(DeviceKeyOf(parsed)) })));
        return command;
    }

    private static Command BlocklistCommand()
    {
        var purge = new Option<bool>("--purge-expired") { Description = "Delete expired entries first." };
        var command = new Command("blocklist", "List the blocklist (JSON lines).") { Interface, Namespace, purge };
        command.SetAction(parsed => WithFilter(parsed, filter =>
        {
            if (parsed.GetValue(purge))
            {
                Console.Error.WriteLine($"purged {filter.PurgeExpiredBlocks()} expired entries");
            }

            foreach (BlockedDevice b in filter.ListBlocked())
            {
                Print(new { key = Hex(b.DeviceKey), b.Reason, expires_in_s = b.ExpiresIn?.TotalSeconds, expired = b.IsExpired });
            }
        }));
        return command;
    }

    private static Command LimitCommand()
    {
        var max = new Option<ulong>("--max") { Description = "Bucket size (burst).", Required = true };
        var rate = new Option<ulong>("--rate") { Description = "Tokens per second.", Required = true };
        var command = new Command("limit", "Give a device a token bucket of its own.") { Interface, Namespace, Device, Key, max, rate };
        command.SetAction(parsed => WithFilter(parsed, filter =>
        {
            ulong key = DeviceKeyOf(parsed);
            filter.SetDeviceLimit(key, new DeviceLimit(parsed.GetValue(max), parsed.GetValue(rate)));
            Print(new { limited = Hex(key) });
        }));
        return command;
    }

    private static Command UnlimitCommand()
    {
        var command = new Command("unlimit", "Return a device to the default limits.") { Interface, Namespace, Device, Key };
        command.SetAction(parsed => WithFilter(parsed, filter => Print(new { removed = filter.RemoveDeviceLimit(DeviceKeyOf(parsed)) })));
        return command;
    }

    private static Command EventsCommand()
    {
        var seconds = new Option<double>("--seconds") { Description = "How long to listen.", DefaultValueFactory = _ => 10 };
        var command = new Command("events", "Print events from the ring buffer (JSON lines). Only one reader gets each event: not while an edge reads them.")
        {
            Interface, Namespace, seconds,
        };
        command.SetAction(parsed => Run(() =>
        {
            using XdpFilter filter = XdpFilter.Open(parsed.GetValue(Interface)!, parsed.GetValue(Namespace), eventChannelCapacity: 4096);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(parsed.GetValue(seconds)));
            try
            {
                while (filter.Events.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult())
                {
                    while (filter.Events.TryRead(out XdpEvent? e))
                    {
                        Print(new { e.Kind, key = Hex(e.DeviceKey), e.DeviceId, source = e.Source.ToString(), e.Sequence, e.Reason, e.TimestampNs });
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // time is up
            }
        }));
        return command;
    }

    private static Command FloodCommand()
    {
        var target = new Option<string>("--target") { Description = "Address and port, e.g. 10.0.0.2:5000.", Required = true };
        var count = new Option<long>("--count") { Description = "Datagrams to send (a multiple of 100 gives exact shares).", DefaultValueFactory = _ => 1_000_000 };
        var valid = new Option<int>("--valid-percent") { Description = "Valid datagrams per hundred; the rest is bad magic, too short and blocked devices in equal parts.", DefaultValueFactory = _ => 10 };
        var blocked = new Option<int>("--blocked-devices") { Description = "Blocked device ids used (flood-blk-0000 …).", DefaultValueFactory = _ => 8 };
        var command = new Command("flood", "Benchmark flood of mostly garbage (scripts/bench-xdp.sh); prints a JSON summary.") { target, count, valid, blocked };
        command.SetAction(parsed => Run(() =>
        {
            IPEndPoint endpoint = IPEndPoint.Parse(parsed.GetValue(target)!);
            Print(Flood.Run(endpoint, parsed.GetValue(count), parsed.GetValue(valid), parsed.GetValue(blocked), devices: 100));
        }));
        return command;
    }

    private static int WithFilter(ParseResult parsed, Action<XdpFilter> action) => Run(() =>
    {
        using XdpFilter filter = XdpFilter.Open(parsed.GetValue(Interface)!, parsed.GetValue(Namespace));
        action(filter);
    });

    private static ulong DeviceKeyOf(ParseResult parsed)
    {
        string? device = parsed.GetValue(Device);
        string? key = parsed.GetValue(Key);
        if ((device is null) == (key is null))
        {
            throw new ArgumentException("Give exactly one of --device and --key.");
        }

        return device is not null
            ? XdpFilterExtensions.KeyOf(device)
            : ulong.TryParse(key, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong k) ? k : throw new ArgumentException($"--key \"{key}\" is not 16 hex digits.");
    }

    private static string Hex(ulong key) => key.ToString("x16", CultureInfo.InvariantCulture);

    private static void Print<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));

    private static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("klais-xdp: " + e.Message);
            return 2;
        }
        catch (Exception e) when (e is BpfException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("klais-xdp: " + e.Message);
            return 1;
        }
    }
}
