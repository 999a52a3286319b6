using Klais.Contracts.Wire;
using Klais.Edge.Devices;
using Klais.Testing;

namespace Klais.Edge.Tests.Devices;

public sealed class DevicePolicyTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly DevicePolicy _policy;

    public DevicePolicyTests() => _policy = new DevicePolicy(_time);

    private static ulong Key(string id) => DevicePolicy.KeyOf(id);

    [Fact]
    public void The_key_of_an_id_is_the_parsers_key_of_the_same_device()
    {
        byte[] datagram = new byte[Datagram.HeaderLength + 2];
        Datagram.Write(datagram, "sensor-7"u8, 1, "{}"u8);
        Assert.Equal(Rejection.None, Datagram.TryParse(datagram, 1024, true, out DatagramHeader header, out _));

        Assert.Equal(header.DeviceKey, DevicePolicy.KeyOf("sensor-7"));
    }

    [Fact]
    public void A_blocked_device_is_refused_until_its_ttl_passes_and_others_are_untouched()
    {
        BlockEntry entry = _policy.Block("sensor-1", TimeSpan.FromSeconds(60), "flooding", BlockSource.Operator);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(60), entry.ExpiresAt);
        Assert.Equal(Rejection.Blocked, _policy.Check(Key("sensor-1")));
        Assert.Equal(Rejection.None, _policy.Check(Key("sensor-2")));

        _time.Advance(TimeSpan.FromSeconds(59.9));
        Assert.Equal(Rejection.Blocked, _policy.Check(Key("sensor-1")));

        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(Rejection.None, _policy.Check(Key("sensor-1")));
        Assert.Empty(_policy.ListBlocked());
        Assert.False(_policy.Unblock("sensor-1"));
    }

    [Fact]
    public void Unblock_lifts_a_block_and_reports_whether_there_was_one()
    {
        _policy.Block("sensor-1", null, "operator", BlockSource.Operator);
        _time.Advance(TimeSpan.FromDays(400));
        Assert.Equal(Rejection.Blocked, _policy.Check(Key("sensor-1")));

        Assert.True(_policy.Unblock("sensor-1"));
        Assert.Equal(Rejection.None, _policy.Check(Key("sensor-1")));
        Assert.False(_policy.Unblock("sensor-1"));
    }

    [Fact]
    public void A_device_limit_passes_the_burst_then_the_rate()
    {
        _policy.SetLimit("sensor-1", rate: 10, burst: 5);
        ulong key = Key("sensor-1");

        int passed = Enumerable.Range(0, 20).Count(_ => _policy.Check(key) == Rejection.None);
        Assert.Equal(5, passed);
        Assert.Equal(Rejection.DeviceRateLimited, _policy.Check(key));

        _time.Advance(TimeSpan.FromSeconds(1));                      // 10 tokens, capped at the burst of 5
        Assert.Equal(5, Enumerable.Range(0, 20).Count(_ => _policy.Check(key) == Rejection.None));

        _time.Advance(TimeSpan.FromMilliseconds(300));               // 3 tokens
        Assert.Equal(3, Enumerable.Range(0, 20).Count(_ => _policy.Check(key) == Rejection.None));

        Assert.Equal(Rejection.None, _policy.Check(Key("sensor-2")));
        Assert.True(_policy.RemoveLimit("sensor-1"));
        Assert.Equal(Rejection.None, _policy.Check(key));
        Assert.False(_policy.RemoveLimit("sensor-1"));
    }

    [Fact]
    public void Mirroring_writes_existing_and_later_entries_to_the_kernel_side_and_stops_user_space_enforcement()
    {
        _policy.Block("a", TimeSpan.FromSeconds(30), "r", BlockSource.ControlPlane);
        _policy.SetLimit("b", 5, 10);
        var mirror = new RecordingMirror();

        _policy.MirrorTo(mirror);
        _policy.Block("c", null, "r", BlockSource.Operator);
        _policy.Unblock("a");
        _policy.RemoveLimit("b");

        Assert.False(_policy.EnforceInUserSpace);
        Assert.Equal(Rejection.None, _policy.Check(Key("c")));
        Assert.Equal(
            [
                $"block {Key("a"):x16} 30 ControlPlane", $"limit {Key("b"):x16} 5 10", $"block {Key("c"):x16} - Operator",
                $"unblock {Key("a"):x16}", $"unlimit {Key("b"):x16}",
            ],
            mirror.Calls);
    }

    [Theory]
    [InlineData("", "1 to 16 bytes")]
    [InlineData("seventeen-bytes-x", "1 to 16 bytes")]
    [InlineData("a\0b", "NUL")]
    public void Bad_device_ids_are_refused_with_the_rule(string id, string rule)
    {
        Assert.Contains(rule, DevicePolicy.ValidateDeviceId(id), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _policy.Block(id, null, "r", BlockSource.Operator));
    }

    private sealed class RecordingMirror : IDevicePolicyMirror
    {
        public List<string> Calls { get; } = [];

        public void Block(ulong deviceKey, TimeSpan? ttl, BlockSource source) =>
            Calls.Add($"block {deviceKey:x16} {(ttl is { } t ? Math.Round(t.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")} {source}");

        public void Unblock(ulong deviceKey) => Calls.Add($"unblock {deviceKey:x16}");

        public void SetLimit(ulong deviceKey, double rate, long burst) => Calls.Add($"limit {deviceKey:x16} {rate} {burst}");

        public void RemoveLimit(ulong deviceKey) => Calls.Add($"unlimit {deviceKey:x16}");
    }
}
