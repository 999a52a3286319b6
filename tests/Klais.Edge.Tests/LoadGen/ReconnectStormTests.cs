using System.Net;
using System.Text;
using System.Text.Json;
using Klais.Contracts.Wire;
using Klais.Edge.Receive;
using Klais.Edge.Tests.Receive;
using Klais.LoadGen;

namespace Klais.Edge.Tests.LoadGen;

public sealed class ReconnectStormTests
{
    private const long FlushStart = 1_764_200_000_000; // 2025-11-26 23:33:20 UTC

    [Fact]
    public void Each_device_flushes_its_history_in_sequence_order_with_timestamps_one_interval_apart_ending_one_interval_ago()
    {
        var storm = new ReconnectStorm(devices: 3, firstDevice: 10, history: 4, startSequence: 7, payloadBytes: 80, TimeSpan.FromMilliseconds(500));
        storm.Start(FlushStart);
        var records = new List<(string Device, uint Sequence, long Stamp, int Length)>();
        byte[] buffer = new byte[storm.MaxDatagramBytes];
        while (!storm.Done)
        {
            int length = storm.Write(buffer);
            records.Add(Read(buffer.AsSpan(0, length)));
        }

        Assert.Equal(12, storm.Planned);
        Assert.Equal(
        [
            ("dev-000011", 7u, FlushStart - 2000, 102), ("dev-000012", 7u, FlushStart - 2000, 102), ("dev-000013", 7u, FlushStart - 2000, 102),
            ("dev-000011", 8u, FlushStart - 1500, 102), ("dev-000012", 8u, FlushStart - 1500, 102), ("dev-000013", 8u, FlushStart - 1500, 102),
            ("dev-000011", 9u, FlushStart - 1000, 102), ("dev-000012", 9u, FlushStart - 1000, 102), ("dev-000013", 9u, FlushStart - 1000, 102),
            ("dev-000011", 10u, FlushStart - 500, 102), ("dev-000012", 10u, FlushStart - 500, 102), ("dev-000013", 10u, FlushStart - 500, 102),
        ], records);
        Assert.Throws<InvalidOperationException>(() => storm.Write(buffer));
    }

    [Fact]
    public void The_storm_writes_nothing_before_it_starts_and_refuses_a_start_whose_oldest_reading_has_no_13_digit_stamp()
    {
        var storm = new ReconnectStorm(1, 0, 2, 1, 64, TimeSpan.FromSeconds(1));
        Assert.Throws<InvalidOperationException>(() => storm.Write(new byte[storm.MaxDatagramBytes]));
        Assert.Equal(-1, storm.FlushStartUnixMs);
        Assert.Throws<ArgumentOutOfRangeException>(() => storm.Start(1_000_000_001_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReconnectStorm(1, 0, 2, 1, ReconnectStorm.MinPayloadBytes - 1, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_run_sends_live_traffic_first_then_the_whole_history_at_the_storm_time_while_live_traffic_goes_on()
    {
        var handler = new RecordingHandler();
        using UdpReceiver receiver = LoadGeneratorTests.StartReceiver(handler);
        var options = new LoadGeneratorOptions
        {
            Target = receiver.LocalEndPoint, Devices = 5, Rate = 2000, Duration = TimeSpan.FromSeconds(0.8), Batch = 16,
            StormDevices = 40, StormHistory = 25, StormAt = TimeSpan.FromSeconds(0.3), StartSequence = 100,
        };
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        LoadSummary summary = new LoadGenerator(options).Run();

        StormSummary storm = summary.Storm!;
        Assert.Equal((40, 25, 1000L, 1000L), (storm.Devices, storm.History, storm.Planned, storm.Sent));
        Assert.InRange(storm.FlushStartUnixMs, before + 300, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.True(storm.StartedAfter >= TimeSpan.FromSeconds(0.3), $"started after {storm.StartedAfter}");
        Assert.NotNull(storm.SendTime);
        Assert.True(Loopback.WaitFor(() => receiver.Datagrams >= summary.Sent), $"received {receiver.Datagrams} of {summary.Sent}");

        List<(string Device, uint Sequence, long Stamp, int Length)> all = [.. handler.Datagrams.Select(d => Read(d))];
        int first = all.FindIndex(r => r.Stamp > 0);
        List<(string Device, uint Sequence, long Stamp, int Length)> flushed = [.. all.Where(r => r.Stamp > 0)];
        List<(string Device, uint Sequence, long Stamp, int Length)> live = [.. all.Where(r => r.Stamp == 0)];
        Assert.Equal(1000, flushed.Count);
        Assert.Equal(summary.Sent - 1000, live.Count);
        Assert.All(live, r => Assert.InRange(int.Parse(r.Device[4..]), 1, 5));
        // Devices dev-000006 … dev-000045 each flush sequences 100 … 124, stamped 25 s … 1 s before the flush.
        Assert.Equal(Enumerable.Range(6, 40).Select(i => DatagramFactory.DeviceId(i - 1)), flushed.Select(r => r.Device).Distinct().Order());
        Assert.All(flushed.GroupBy(r => r.Device), g =>
        {
            Assert.Equal(Enumerable.Range(100, 25).Select(s => (uint)s), g.Select(r => r.Sequence));
            Assert.Equal(Enumerable.Range(0, 25).Select(k => storm.FlushStartUnixMs - (25 - k) * 1000L), g.Select(r => r.Stamp));
        });
        // Before the storm, live traffic at its pace (a burst of 16 at once, then 2000/s); none of the storm.
        Assert.InRange(first, 1, 16 + (int)(2000 * storm.StartedAfter.TotalSeconds) + 1);
        Assert.Equal(first, storm.LiveBefore);
        Assert.Equal(Enumerable.Range(0, first).Select(i => DatagramFactory.DeviceId(i % 5)), all.Take(first).Select(r => r.Device));
        Assert.True(live.Count > first, $"live traffic went on after the storm: {live.Count} live, {first} before it");
        Assert.Equal(summary.Sent, summary.Valid);

        using JsonDocument json = JsonDocument.Parse(summary.ToJson());
        JsonElement s = json.RootElement.GetProperty("storm");
        Assert.Equal((1000, 1000, storm.FlushStartUnixMs), (s.GetProperty("planned").GetInt64(), s.GetProperty("sent").GetInt64(), s.GetProperty("start_unix_ms").GetInt64()));
        Assert.Equal((storm.LiveDuringSend, storm.LiveBefore), (s.GetProperty("live_during_send").GetInt64(), s.GetProperty("live_before").GetInt64()));
    }

    [Fact]
    public void Storm_arguments_are_read_and_checked()
    {
        var commandLine = new LoadGenCommandLine();
        string[] good = ["--devices", "100", "--rate", "1000", "--duration", "30", "--storm-devices", "1000", "--storm-at", "12.5",
            "--storm-history", "20", "--storm-rate", "50000", "--storm-interval", "0.5"];
        LoadGeneratorOptions? options = commandLine.Parse(commandLine.Root.Parse(good), out List<string> errors);
        Assert.Empty(errors);
        Assert.Equal((1000, TimeSpan.FromSeconds(12.5), 20, 50000.0, TimeSpan.FromSeconds(0.5)),
            (options!.StormDevices, options.StormAt, options.StormHistory, options.StormRate, options.StormInterval));

        string[] bad = ["--devices", "100", "--rate", "0", "--storm-devices", "999900", "--storm-history", "0", "--storm-interval", "0", "--payload-bytes", "40"];
        Assert.Null(commandLine.Parse(commandLine.Root.Parse(bad), out errors));
        Assert.Equal(
        [
            "`--storm-devices` is 999900 with `--first-device` 1 and `--devices` 100. The storm's devices follow the live ones: the ids must stay within dev-000001 … dev-999999.",
            "`--storm-history` is 0. It must be between 1 and 1000000 records per device.",
            "`--storm-interval` is 0. It must be from 0.001 to 86400 seconds.",
            "`--rate` is 0 with `--storm-devices` 999900. A storm runs beside paced live traffic: the live rate must be above 0.",
            "`--duration` is not set with `--storm-devices` 999900. A run with a storm needs one.",
            "`--payload-bytes` is 40 with `--storm-devices`. It must be at least 45 (the buffered records carry their timestamp).",
        ], errors);
        Assert.Contains("`--storm-at` is 30", Assert.Single(new LoadGeneratorOptions
        {
            Rate = 1, Duration = TimeSpan.FromSeconds(30), StormDevices = 1, StormAt = TimeSpan.FromSeconds(30),
        }.Validate()), StringComparison.Ordinal);
    }

    /// <summary>Device, sequence, the payload's <c>ts</c> (0 for a live datagram, which has none) and the length.</summary>
    private static (string Device, uint Sequence, long Stamp, int Length) Read(ReadOnlySpan<byte> datagram)
    {
        Assert.Equal(Rejection.None, Datagram.TryParse(datagram, 1024, validateJson: true, out DatagramHeader header, out _));
        using JsonDocument payload = JsonDocument.Parse(datagram[Datagram.HeaderLength..].ToArray());
        long stamp = payload.RootElement.TryGetProperty("ts", out JsonElement ts) ? ts.GetInt64() : 0;
        Assert.Equal(21.5, payload.RootElement.GetProperty("t").GetDouble());
        return (Encoding.ASCII.GetString(Datagram.DeviceIdText(datagram, header)), header.Sequence, stamp, datagram.Length);
    }
}
