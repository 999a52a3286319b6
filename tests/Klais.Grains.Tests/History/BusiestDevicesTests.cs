using Klais.Grains.History;

namespace Klais.Grains.Tests.History;

[Trait("Category", "Unit")]
public sealed class BusiestDevicesTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    [Fact]
    public void Merges_each_silos_latest_list_busiest_first_and_leaves_out_stale_lists()
    {
        var talkers = new BusiestDevices();
        talkers.Contribute("s1", Now.AddSeconds(-1), [new("a", 50, 500), new("b", 10, 100)]);
        talkers.Contribute("s2", Now.AddSeconds(-2), [new("c", 30, 300)]);
        talkers.Contribute("s2", Now.AddSeconds(-5), [new("old", 99, 990)]); // older than s2's list: ignored
        talkers.Contribute("s3", Now - BusiestDevices.MaxAge - TimeSpan.FromSeconds(1), [new("gone", 1000, 1)]);

        Assert.Equal(["a", "c", "b"], talkers.Top(Now).Select(d => d.DeviceId));
        Assert.Equal(30, talkers.Top(Now)[1].PacketsPerSecond);
    }

    [Fact]
    public void Keeps_the_twenty_busiest()
    {
        var talkers = new BusiestDevices();
        talkers.Contribute("s1", Now, [.. Enumerable.Range(0, 30).Select(i => new DeviceRate($"d{i:00}", i, i))]);

        IReadOnlyList<DeviceRate> top = talkers.Top(Now);
        Assert.Equal(BusiestDevices.Count, top.Count);
        Assert.Equal("d29", top[0].DeviceId);
        Assert.Equal("d10", top[^1].DeviceId);
    }
}
