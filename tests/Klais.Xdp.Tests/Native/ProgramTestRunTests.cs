using Klais.Xdp.Native;
using Klais.Xdp.Tests.Support;

namespace Klais.Xdp.Tests.Native;

/// <summary>
/// The program run on crafted frames with BPF_PROG_TEST_RUN: no interface, no namespace, exact inputs (VLAN tags,
/// IP options, fragments) that are awkward to send for real. Each test class gets its own loaded program and maps.
/// </summary>
public sealed class ProgramTestRunTests : IClassFixture<ProgramTestRunTests.LoadedProgram>
{
    private const uint XdpDrop = 1;
    private const uint XdpPass = 2;
    private readonly XdpProgram _program;

    public ProgramTestRunTests(LoadedProgram loaded) => _program = loaded.Program;

    [PrivilegedFact]
    public void Device_key_in_the_kernel_equals_every_golden_vector()
    {
        foreach ((byte[] rawId, ulong expected) in GoldenVectors.Load())
        {
            HashSet<ulong> before = [.. _program.DeviceLimits.Keys()];

            uint action = _program.TestRun(Frames.Udp4(Frames.Datagram(rawId)));

            // The program created a bucket under the key it computed: that key is the new entry of device_limits.
            HashSet<ulong> added = [.. _program.DeviceLimits.Keys()];
            added.ExceptWith(before);
            Assert.Equal(XdpPass, action);
            Assert.Equal([expected], added);
        }
    }

    [PrivilegedFact]
    public void Passes_a_valid_datagram_behind_any_supported_header_stack()
    {
        byte[] datagram = Frames.Datagram("stack-1");
        byte[][] frames =
        [
            Frames.Udp4(datagram),
            Frames.Udp6(datagram),
            Frames.Udp4(datagram, optionBytes: 8),
            Frames.Udp4(datagram, optionBytes: 40), // the longest IPv4 header (ihl 15)
            Frames.Udp4(datagram, vlans: [(0x8100, 7)]),
            Frames.Udp6(datagram, vlans: [(0x88A8, 100), (0x8100, 7)]),
        ];
        XdpStatistics before = _program.ReadStatistics(0);

        uint[] actions = frames.Select(f => _program.TestRun(f)).ToArray();

        XdpStatistics after = _program.ReadStatistics(0);
        Assert.All(actions, a => Assert.Equal(XdpPass, a));
        Assert.Equal((ulong)frames.Length, after.Passed.Packets - before.Passed.Packets);
        Assert.Equal((ulong)(frames.Length * datagram.Length), after.Passed.Bytes - before.Passed.Bytes); // UDP payload bytes
    }

    [PrivilegedFact]
    public void Drops_a_datagram_shorter_than_the_header_and_one_with_bad_magic()
    {
        byte[] valid = Frames.Datagram("short-1");
        byte[] badMagic = (byte[])valid.Clone();
        badMagic[1] = 0x56;
        XdpStatistics before = _program.ReadStatistics(0);

        uint shortAction = _program.TestRun(Frames.Udp4(valid[..21]));
        uint shortV6Action = _program.TestRun(Frames.Udp6(valid[..2]));
        uint magicAction = _program.TestRun(Frames.Udp4(badMagic, vlans: [(0x8100, 3)]));

        XdpStatistics after = _program.ReadStatistics(0);
        Assert.Equal([XdpDrop, XdpDrop, XdpDrop], [shortAction, shortV6Action, magicAction]);
        Assert.Equal(2UL, after.DroppedSize.Packets - before.DroppedSize.Packets);
        Assert.Equal(1UL, after.DroppedMagic.Packets - before.DroppedMagic.Packets);
    }

    [PrivilegedFact]
    public void Passes_untouched_what_is_not_klais_traffic()
    {
        byte[] garbage = new byte[5]; // would be "too short" on a KLAIS port
        byte[][] frames =
        [
            Frames.Udp4(garbage, port: 5001),
            Frames.Udp6(garbage, port: 53),
            Frames.Tcp4(new byte[40]),
            Frames.Arp(),
            Frames.Udp4(garbage, moreFragments: true),
            Frames.Udp4(garbage, vlans: [(0x8100, 1), (0x8100, 2), (0x8100, 3)]), // three tags: deeper than we parse
        ];
        XdpStatistics before = _program.ReadStatistics(0);

        uint[] actions = frames.Select(f => _program.TestRun(f)).ToArray();

        XdpStatistics after = _program.ReadStatistics(0);
        Assert.All(actions, a => Assert.Equal(XdpPass, a));
        Assert.Equal((ulong)frames.Length, after.NotKlais.Packets - before.NotKlais.Packets);
        Assert.Equal(before.Dropped, after.Dropped);
    }

    [PrivilegedFact]
    public void A_device_without_an_override_follows_the_defaults_and_one_with_an_override_its_own_limit()
    {
        ulong overridden = XdpFilterExtensions.KeyOf("limited-own");
        _program.LimitOverrides.Update(overridden, new KlaisLimit { MaxTokens = 1, RefillRate = 1 });
        _program.WriteParameters(new XdpParameters { DefaultMaxTokens = 3, DefaultRefillRate = 1 });
        try
        {
            // Both devices are new: their buckets start full (3 by default, 1 by override) and refill at 1/s,
            // far slower than this test sends.
            uint[] byDefault = Enumerable.Range(0, 5).Select(_ => _program.TestRun(Frames.Udp4(Frames.Datagram("limited-def")))).ToArray();
            uint[] byOverride = Enumerable.Range(0, 3).Select(_ => _program.TestRun(Frames.Udp4(Frames.Datagram("limited-own")))).ToArray();

            Assert.Equal([XdpPass, XdpPass, XdpPass, XdpDrop, XdpDrop], byDefault);
            Assert.Equal([XdpPass, XdpDrop, XdpDrop], byOverride);
            Assert.True(_program.DeviceLimits.TryLookup(overridden, out KlaisBucket bucket));
            Assert.Equal((1UL, 1UL), (bucket.MaxTokens, bucket.RefillRate));
        }
        finally
        {
            _program.WriteParameters(new XdpParameters());
        }
    }

    [PrivilegedFact]
    public void Drops_a_blocked_device_until_its_entry_expires()
    {
        ulong key = XdpFilterExtensions.KeyOf("blocked-tr");
        byte[] frame = Frames.Udp4(Frames.Datagram("blocked-tr"));
        ulong now = Interop.Libc.MonotonicNanoseconds();

        _program.Blocklist.Update(key, new KlaisBlock { ExpiresNs = now + 3_600_000_000_000UL, Reason = 9 });
        uint whileBlocked = _program.TestRun(frame);
        _program.Blocklist.Update(key, new KlaisBlock { ExpiresNs = now - 1, Reason = 9 });
        uint afterExpiry = _program.TestRun(frame);
        _program.Blocklist.Update(key, new KlaisBlock { ExpiresNs = 0, Reason = 9 });
        uint permanent = _program.TestRun(frame);
        _program.Blocklist.Delete(key);

        Assert.Equal([XdpDrop, XdpPass, XdpDrop], [whileBlocked, afterExpiry, permanent]);
    }

    /// <summary>The program loaded (not attached), listening on port 5000, with no rate limit by default.</summary>
    public sealed class LoadedProgram : IDisposable
    {
        public LoadedProgram()
        {
            if (Privileges.MissingReason is null)
            {
                Program = XdpProgram.Load();
                Program.WritePorts([Frames.Port]);
                Program.WriteParameters(new XdpParameters());
            }
        }

        internal XdpProgram Program { get; } = null!;

        public void Dispose() => Program?.Dispose();
    }
}
