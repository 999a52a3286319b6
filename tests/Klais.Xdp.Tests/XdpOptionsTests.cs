namespace Klais.Xdp.Tests;

public sealed class XdpOptionsTests
{
    [Fact]
    public void Defaults_with_an_interface_are_valid()
    {
        Assert.Empty(new XdpOptions { Interface = "eth0" }.Validate());
    }

    [Fact]
    public void Every_broken_rule_is_reported_at_once_naming_setting_value_and_rule()
    {
        var options = new XdpOptions
        {
            Interface = "an-interface-name-too-long",
            Mode = (XdpMode)9,
            Ports = [],
            EventChannelCapacity = -1,
            ObjectPath = "/nonexistent/klais.o",
            Parameters = new XdpParameters { DefaultRefillRate = 10, DefaultMaxTokens = 0 },
        };

        IReadOnlyList<string> errors = options.Validate();

        Assert.Equal(
            [
                "`XdpOptions.Interface` is \"an-interface-name-too-long\". It must name a network interface: 1 to 15 bytes, no '/', space or NUL.",
                "`XdpOptions.Mode` is 9. It must be Auto, Native or Generic.",
                "`XdpOptions.Ports` is []. It must hold 1 to 64 ports, none of them 0.",
                "`XdpOptions.EventChannelCapacity` is -1. It must be 0 (no events) or more.",
                "`XdpOptions.ObjectPath` is \"/nonexistent/klais.o\". It must be an existing file (or null for the embedded object).",
                "`XdpOptions.Parameters.DefaultMaxTokens` is 0. It must be at least 1 when DefaultRefillRate is set (10).",
            ],
            errors);
    }

    [Fact]
    public void Attach_refuses_invalid_options_before_touching_the_kernel()
    {
        var e = Assert.Throws<ArgumentException>(() => XdpFilter.Attach(new XdpOptions { Interface = "", Ports = [0] }));

        Assert.Contains("XdpOptions.Interface", e.Message, StringComparison.Ordinal);
        Assert.Contains("XdpOptions.Ports", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0UL, 1UL, "`DeviceLimit.MaxTokens` is 0. It must be at least 1.")]
    [InlineData(1UL, 0UL, "`DeviceLimit.RefillRate` is 0. It must be 1 to 4294967295 tokens per second.")]
    [InlineData(1UL, 4294967296UL, "`DeviceLimit.RefillRate` is 4294967296. It must be 1 to 4294967295 tokens per second.")]
    public void Device_limits_outside_what_the_program_computes_are_refused(ulong maxTokens, ulong rate, string error)
    {
        Assert.Equal([error], new DeviceLimit(maxTokens, rate).Validate());
    }

    [Fact]
    public void A_device_id_key_is_the_shared_device_key_of_the_padded_id()
    {
        // First golden vector: "dev-000001" NUL-padded.
        Assert.Equal(0xf7e942fb56441318UL, XdpFilterExtensions.KeyOf("dev-000001"));
        Assert.Throws<ArgumentException>(() => XdpFilterExtensions.KeyOf("seventeen-bytes-x"));
    }
}
