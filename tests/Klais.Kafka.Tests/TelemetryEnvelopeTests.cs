using System.Text;

namespace Klais.Kafka.Tests;

/// <summary>The envelope layout of docs/kafka.md, byte for byte, and what a reader refuses.</summary>
public sealed class TelemetryEnvelopeTests
{
    [Fact]
    public void The_prefix_is_version_seq_ts_edge_length_and_edge_in_big_endian_and_reads_back()
    {
        byte[] value = new byte[TelemetryEnvelope.PrefixLength(3) + 2];
        Assert.Equal(17, TelemetryEnvelope.WritePrefix(value, 0x01020304, 0x1122334455667788, "e-1"u8));
        "{}"u8.CopyTo(value.AsSpan(17));

        Assert.Equal(new byte[] { 1, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 3, (byte)'e', (byte)'-', (byte)'1', (byte)'{', (byte)'}' }, value);
        Assert.True(TelemetryEnvelope.TryRead(value, out TelemetryEnvelopeFields fields));
        Assert.Equal((0x01020304u, 0x1122334455667788L, "e-1", "{}"), (fields.Sequence, fields.ReceivedUnixNanos, fields.EdgeText, Encoding.UTF8.GetString(fields.Payload)));
    }

    [Theory]
    [InlineData("")]                                   // empty value
    [InlineData("7b22743a2231327d")]                   // {"t":12}: a payload written in the headers format
    [InlineData("01000000010000000000000001")]         // 13 bytes: one short of the fixed part
    [InlineData("010000000100000000000000010565")]     // edge length 5, one byte of it present
    public void A_value_that_is_not_a_whole_envelope_is_refused(string hex)
    {
        Assert.False(TelemetryEnvelope.TryRead(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void An_edge_id_longer_than_255_bytes_is_refused_when_writing_and_when_producing()
    {
        byte[] value = new byte[TelemetryEnvelope.PrefixLength(256)];
        Assert.Throws<ArgumentException>(() => TelemetryEnvelope.WritePrefix(value, 1, 1, new byte[256]));
        Assert.Throws<ArgumentException>(() => new NativeProducer(new Dictionary<string, string> { ["bootstrap.servers"] = "127.0.0.1:9" }, "t", new string('x', 256), RecordFormat.Envelope));
    }
}
