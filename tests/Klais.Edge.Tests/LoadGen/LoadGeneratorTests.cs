using System.Net;
using System.Text;
using Klais.Contracts.Wire;
using Klais.Edge.Receive;
using Klais.Edge.Tests.Receive;
using Klais.LoadGen;

namespace Klais.Edge.Tests.LoadGen;

public sealed class LoadGeneratorTests
{
    [Fact]
    public void Bad_share_yields_exactly_the_predicted_count_per_rejection_reason()
    {
        var handler = new ParsingHandler();
        using UdpReceiver receiver = StartReceiver(handler);
        var generator = new LoadGenerator(Options(receiver) with { Count = 1000, BadShare = 0.1, ReplayShare = 0.05 });

        LoadSummary summary = generator.Run();

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 1000), $"received {receiver.Datagrams}");
        Assert.Equal(25, handler.Count(Rejection.TooShort));
        Assert.Equal(25, handler.Count(Rejection.BadMagic));
        Assert.Equal(25, handler.Count(Rejection.BadDeviceId));
        Assert.Equal(25, handler.Count(Rejection.InvalidJson));
        Assert.Equal(900, handler.Count(Rejection.None));
        Assert.Equal(new LoadSummary(1000, 850, 25, 25, 25, 25, 50, 0, summary.Elapsed), summary);
    }

    [Fact]
    public void Replays_resend_sequences_already_sent_and_sequences_count_up_from_the_start()
    {
        var handler = new RecordingHandler();
        using UdpReceiver receiver = StartReceiver(handler);
        var generator = new LoadGenerator(Options(receiver) with { Count = 1000, Devices = 10, ReplayShare = 0.05, StartSequence = 7 });

        generator.Run();

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 1000), $"received {receiver.Datagrams}");
        List<(string Device, uint Sequence)> pairs = handler.Datagrams.Select(Header).ToList();
        Assert.Equal(950, pairs.Distinct().Count());
        Assert.Equal(50, pairs.Count - pairs.Distinct().Count());
        Assert.Equal(
            Enumerable.Range(7, 95).Select(s => (uint)s),
            pairs.Where(p => p.Device == "dev-000001").Select(p => p.Sequence).Distinct().Order());
    }

    [Fact]
    public void Several_sources_send_a_batch_each_in_turn_from_their_own_loopback_address()
    {
        var handler = new RecordingHandler();
        using UdpReceiver receiver = StartReceiver(handler);
        var generator = new LoadGenerator(Options(receiver) with { Count = 640, Batch = 64, Sources = 5, Devices = 1, FirstDevice = 777 });

        generator.Run();

        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= 640), $"received {receiver.Datagrams}");
        Dictionary<string, int> bySource = handler.Sources.GroupBy(s => s.AddressText()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(["127.1.0.1", "127.1.0.2", "127.1.0.3", "127.1.0.4", "127.1.0.5"], bySource.Keys.Order());
        Assert.All(bySource.Values, n => Assert.Equal(128, n)); // 10 batches of 64, two from each
        Assert.All(handler.Datagrams, d => Assert.Equal("dev-000777", Header(d).Device));
    }

    [Fact]
    public void Several_sources_need_a_loopback_ipv4_target()
    {
        var options = new LoadGeneratorOptions { Target = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 5000), Sources = 3 };
        Assert.Contains("`--sources` is 3 with `--target` 192.0.2.1:5000", Assert.Single(options.Validate()), StringComparison.Ordinal);
        Assert.Empty((options with { Sources = 1 }).Validate());
        Assert.Contains("between 1 and 1000", Assert.Single((options with { Sources = 0 }).Validate()), StringComparison.Ordinal);
    }

    [Fact]
    public void Paced_run_sends_at_about_the_asked_rate()
    {
        using UdpReceiver receiver = StartReceiver(new ParsingHandler());
        var generator = new LoadGenerator(Options(receiver) with { Count = 1064, Rate = 2000 });

        LoadSummary summary = generator.Run();

        // One burst of 64 goes at once, the other 1000 at 2000/s: about 0.5 s. Generous bounds for a shared machine.
        Assert.Equal(1064, summary.Sent);
        Assert.InRange(summary.Elapsed, TimeSpan.FromSeconds(0.45), TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public void Summary_is_one_line_of_json_with_every_count()
    {
        var summary = new LoadSummary(10, 5, 1, 1, 1, 1, 1, 0, TimeSpan.FromSeconds(2));

        Assert.Equal(
            """{"sent":10,"valid":5,"bad":{"too_short":1,"bad_magic":1,"bad_device_id":1,"invalid_json":1},"replayed":1,"refused":0,"elapsed_s":2,"rate":5}""",
            summary.ToJson());
    }

    [Fact]
    public void Bad_arguments_are_all_listed()
    {
        var commandLine = new LoadGenCommandLine();
        string[] args = ["--target", "nowhere", "--devices", "0", "--rate", "-1", "--bad-share", "0.8", "--replay-share", "0.5", "--batch", "x", "--what"];

        LoadGeneratorOptions? options = commandLine.Parse(commandLine.Root.Parse(args), out List<string> errors);

        Assert.Null(options);
        string all = string.Join('\n', errors);
        foreach (string name in new[] { "--target", "--devices", "--rate", "--bad-share", "--batch", "--what" })
        {
            Assert.Contains(name, all, StringComparison.Ordinal);
        }

        Assert.Equal(6, errors.Count);
    }

    [Fact]
    public void Good_arguments_become_options()
    {
        var commandLine = new LoadGenCommandLine();
        string[] args = ["--target", "[::1]:5001", "--devices", "3", "--rate", "100", "--duration", "2.5", "--start-seq", "9"];

        LoadGeneratorOptions? options = commandLine.Parse(commandLine.Root.Parse(args), out List<string> errors);

        Assert.Empty(errors);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 5001), options!.Target);
        Assert.Equal((3, 100.0, TimeSpan.FromSeconds(2.5), 9u, (long?)null), (options.Devices, options.Rate, options.Duration!.Value, options.StartSequence, options.Count));
    }

    private static LoadGeneratorOptions Options(UdpReceiver receiver) => new()
    {
        Target = receiver.LocalEndPoint,
        Devices = 10,
        PayloadBytes = 64,
    };

    internal static UdpReceiver StartReceiver(IDatagramHandler handler)
    {
        var receiver = new UdpReceiver(
            new ReceiveOptions { Endpoint = new IPEndPoint(IPAddress.Loopback, 0), Threads = 1, ReceiveBufferBytes = 4 * 1024 * 1024 },
            handler);
        receiver.Start();
        return receiver;
    }

    private static (string Device, uint Sequence) Header(byte[] datagram)
    {
        Assert.Equal(Rejection.None, Datagram.TryParse(datagram, 1024, validateJson: true, out DatagramHeader header, out _));
        return (Encoding.ASCII.GetString(Datagram.DeviceIdText(datagram, header)), header.Sequence);
    }
}
