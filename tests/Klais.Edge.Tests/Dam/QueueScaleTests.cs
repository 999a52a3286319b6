using Klais.Edge.Dam;
using Klais.Testing;

namespace Klais.Edge.Tests.Dam;

using Dam = Klais.Edge.Dam.Dam;

/// <summary>The overflow queue's bound follows <see cref="Dam.Rescale"/> (klais.control's queue_scale).</summary>
public sealed class QueueScaleTests
{
    // Each record of DamTesting.Offer with this payload: 5-byte id + 15-byte payload = 20 bytes.
    private const string Payload = "{\"t\":1234567.8}";

    private readonly ManualTimeProvider _clock = new();
    private readonly RecordingSink _sink = new();

    [Fact]
    public void Scale_2_accepts_twice_the_messages()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1, maxMessages: 3), _sink, _clock);
        Assert.Equal(DamOutcome.Passed, dam.Offer("dev-1", 0));

        dam.Rescale(2);
        DamOutcome[] outcomes = Enumerable.Range(1, 7).Select(i => dam.Offer("dev-1", (uint)i)).ToArray();

        Assert.Equal([.. Enumerable.Repeat(DamOutcome.Queued, 6), DamOutcome.Dropped], outcomes);
        Assert.Equal(6, dam.QueueMaxMessages);
        Assert.Equal(2, dam.QueueScale);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void Scale_2_accepts_twice_the_bytes()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1, maxBytes: 100), _sink, _clock);
        dam.Offer("dev-1", 0, Payload);

        dam.Rescale(2);
        DamOutcome[] outcomes = Enumerable.Range(1, 11).Select(i => dam.Offer("dev-1", (uint)i, Payload)).ToArray();

        Assert.Equal([.. Enumerable.Repeat(DamOutcome.Queued, 10), DamOutcome.Dropped], outcomes);
        Assert.Equal(200, dam.QueueMaxBytes);
        Assert.Equal(200, dam.QueueBytes);
    }

    [Fact]
    public void Shrinking_keeps_every_queued_record_and_refuses_new_ones_until_the_queue_is_below_the_new_bound()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1000, burst: 1, maxMessages: 4, maxBytes: 100), _sink, _clock);
        dam.Rescale(2);
        dam.Offer("dev-1", 0, Payload);
        for (uint i = 1; i <= 8; i++)
        {
            Assert.Equal(DamOutcome.Queued, dam.Offer("dev-1", i, Payload));
        }

        dam.Rescale(1);
        Assert.Equal((4, 100), (dam.QueueMaxMessages, dam.QueueMaxBytes));
        Assert.Equal(8, dam.QueueDepth);
        Assert.Equal(DamOutcome.Dropped, dam.Offer("dev-1", 100, Payload));

        DrainOne(dam);
        DrainOne(dam);
        DrainOne(dam);
        DrainOne(dam);
        Assert.Equal(4, dam.QueueDepth);
        Assert.Equal(DamOutcome.Dropped, dam.Offer("dev-1", 101, Payload));

        DrainOne(dam);
        Assert.Equal(DamOutcome.Queued, dam.Offer("dev-1", 9, Payload));
        Assert.Equal(DamOutcome.Dropped, dam.Offer("dev-1", 102, Payload));

        // Keep cycling at the smaller bound: the rings wrap at the new bound and every record stays intact.
        uint next = 10;
        for (int round = 0; round < 30; round++)
        {
            DrainOne(dam);
            Assert.Equal(DamOutcome.Queued, dam.Offer("dev-1", next, $"{{\"t\":{next,10}}}"));
            next++;
        }

        while (dam.QueueDepth > 0)
        {
            DrainOne(dam);
        }

        Assert.Equal(Enumerable.Range(0, (int)next).Select(i => (uint)i), _sink.Sequences());
        Assert.All(_sink.Delivered.Where(d => d.Sequence >= 10), d => Assert.Equal($"{{\"t\":{d.Sequence,10}}}", d.Payload));
        Assert.All(_sink.Delivered.Where(d => d.Sequence < 10), d => Assert.Equal(Payload, d.Payload));
        Assert.Equal(3, dam.Dropped);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void Growing_while_the_entry_ring_has_wrapped_keeps_fifo_order()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1000, burst: 1, maxMessages: 4), _sink, _clock);
        dam.Offer("d", 0);
        for (uint i = 1; i <= 4; i++)
        {
            dam.Offer("d", i);
        }

        DrainOne(dam);
        DrainOne(dam);
        Assert.Equal(DamOutcome.Queued, dam.Offer("d", 5));
        Assert.Equal(DamOutcome.Queued, dam.Offer("d", 6));
        Assert.Equal(DamOutcome.Dropped, dam.Offer("d", 100));

        dam.Rescale(2);
        for (uint i = 7; i <= 10; i++)
        {
            Assert.Equal(DamOutcome.Queued, dam.Offer("d", i));
        }

        Assert.Equal(DamOutcome.Dropped, dam.Offer("d", 101));
        while (dam.QueueDepth > 0)
        {
            DrainOne(dam);
        }

        Assert.Equal(Enumerable.Range(0, 11).Select(i => (uint)i), _sink.Sequences());
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(0.2)]
    [InlineData(2.5)]
    [InlineData(double.PositiveInfinity)]
    public void Scale_outside_its_range_is_refused_and_changes_nothing(double scale)
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1, maxMessages: 8, maxBytes: 800), _sink, _clock);

        Assert.Throws<ArgumentException>(() => dam.Rescale(scale));
        Assert.Equal((8, 800, 1.0), (dam.QueueMaxMessages, dam.QueueMaxBytes, dam.QueueScale));
    }

    [Fact]
    public void Smallest_scale_rounds_and_never_goes_below_one_record()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1, maxMessages: 2, maxBytes: 1000), _sink, _clock);
        dam.Rescale(DamOptions.MinQueueScale);

        Assert.Equal((1, 250), (dam.QueueMaxMessages, dam.QueueMaxBytes));
    }

    private void DrainOne(Dam dam)
    {
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, dam.DrainOnce());
    }
}
