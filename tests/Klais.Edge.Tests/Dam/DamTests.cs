using Klais.Edge.Dam;
using Klais.Testing;

namespace Klais.Edge.Tests.Dam;

using Dam = Klais.Edge.Dam.Dam;

public sealed class DamTests
{
    private readonly ManualTimeProvider _clock = new();
    private readonly RecordingSink _sink = new();

    [Fact]
    public void Burst_passes_then_the_rest_queues_and_drains_as_tokens_refill()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 10), _sink, _clock);

        DamOutcome[] outcomes = Enumerable.Range(1, 15).Select(i => dam.Offer("dev-1", (uint)i)).ToArray();

        Assert.Equal(10, outcomes.Count(o => o == DamOutcome.Passed));
        Assert.Equal(5, outcomes.Count(o => o == DamOutcome.Queued));
        Assert.Equal(0, dam.Tokens);
        Assert.Equal(5, dam.QueueDepth);

        _clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(2, dam.DrainOnce());
        Assert.Equal(0, dam.DrainOnce());

        _clock.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Equal(0, dam.DrainOnce());
        _clock.Advance(TimeSpan.FromMilliseconds(21));
        Assert.Equal(3, dam.DrainOnce());

        Assert.Equal(15, dam.Passed);
        Assert.Equal(5, dam.Queued);
        Assert.Equal(0, dam.QueueDepth);
        Assert.Equal(0, dam.QueueBytes);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void Queue_drains_fifo_as_tokens_refill()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1000, burst: 3), _sink, _clock);
        for (uint i = 1; i <= 50; i++)
        {
            dam.Offer($"dev-{i % 4}", i, $"{{\"n\":{i}}}");
        }

        while (dam.QueueDepth > 0)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(7));
            dam.DrainOnce();
        }

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (uint)i), _sink.Sequences());
        Assert.All(_sink.Delivered, d => Assert.Equal($"{{\"n\":{d.Sequence}}}", d.Payload));
        Assert.All(_sink.Delivered, d => Assert.Equal($"dev-{d.Sequence % 4}", d.Device));
        Assert.All(_sink.Delivered, d => Assert.Equal(1_000 + d.Sequence, d.ReceivedUnixNanos));
    }

    [Fact]
    public void Queued_records_go_before_new_arrivals_even_when_a_token_is_free()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 1), _sink, _clock);
        Assert.Equal(DamOutcome.Passed, dam.Offer("a", 1));
        Assert.Equal(DamOutcome.Queued, dam.Offer("a", 2));

        _clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, dam.Tokens);
        Assert.Equal(DamOutcome.Queued, dam.Offer("a", 3));

        Assert.Equal(1, dam.DrainOnce());
        _clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(1, dam.DrainOnce());

        Assert.Equal([1u, 2u, 3u], _sink.Sequences());
        Assert.Equal(DamOutcome.Queued, dam.Offer("a", 4));
    }

    [Fact]
    public void Full_queue_by_count_drops_and_counts()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 2, maxMessages: 3), _sink, _clock);
        DamOutcome[] outcomes = Enumerable.Range(1, 8).Select(i => dam.Offer("d", (uint)i)).ToArray();

        Assert.Equal([DamOutcome.Passed, DamOutcome.Passed, DamOutcome.Queued, DamOutcome.Queued, DamOutcome.Queued, DamOutcome.Dropped, DamOutcome.Dropped, DamOutcome.Dropped], outcomes);
        Assert.Equal(8, dam.Received);
        Assert.Equal(3, dam.Dropped);
        Assert.Equal(3, dam.QueueDepth);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void Full_queue_by_bytes_drops_and_counts()
    {
        // Each record: 5-byte id + 15-byte payload = 20 bytes; 100 bytes hold five.
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1, maxBytes: 100), _sink, _clock);
        dam.Offer("dev-1", 0, "{\"t\":1234567.8}");
        DamOutcome[] outcomes = Enumerable.Range(1, 6).Select(i => dam.Offer("dev-1", (uint)i, "{\"t\":1234567.8}")).ToArray();

        Assert.Equal(5, outcomes.Count(o => o == DamOutcome.Queued));
        Assert.Equal(DamOutcome.Dropped, outcomes[^1]);
        Assert.Equal(100, dam.QueueBytes);
        Assert.Equal(1, dam.Dropped);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void Byte_ring_wraps_around_and_keeps_every_record_intact()
    {
        // 30-byte records in a 100-byte ring: after one leaves, the next wraps to the start.
        using var dam = new Dam(DamTesting.Options(rate: 1000, burst: 1, maxBytes: 100), _sink, _clock);
        dam.Offer("dev-0", 0);
        uint next = 1;
        for (int round = 0; round < 20; round++)
        {
            while (dam.Offer("dev-0", next, $"{{\"payload\":\"{next,13}\"}}") == DamOutcome.Queued)
            {
                next++;
            }

            Assert.True(dam.QueueBytes <= 100);
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(1, dam.DrainOnce());
        }

        Assert.True(dam.DrainAll(TimeSpan.FromSeconds(1)));
        Assert.All(_sink.Delivered.Skip(1), d => Assert.Equal($"{{\"payload\":\"{d.Sequence,13}\"}}", d.Payload));
        uint[] delivered = _sink.Sequences();
        Assert.Equal(delivered.Order(), delivered);
        Assert.Equal(dam.Passed + dam.Dropped, dam.Received);
    }

    [Fact]
    public void Reconfigure_changes_the_rate_for_the_next_offer()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 1), _sink, _clock);
        Assert.Equal(DamOutcome.Passed, dam.Offer("a", 1));

        dam.Reconfigure(1000, 1);
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(DamOutcome.Passed, dam.Offer("a", 2));
        Assert.Equal(1000, dam.CurrentRate);
    }

    [Fact]
    public void Lowered_burst_leaves_no_more_tokens_than_the_new_burst()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 100), _sink, _clock);
        Assert.Equal(100, dam.Tokens);

        dam.Reconfigure(100, 5);

        Assert.Equal(5, dam.Tokens);
        Assert.Equal(5, dam.CurrentBurst);
        Assert.Equal(5, Enumerable.Range(1, 10).Count(i => dam.Offer("a", (uint)i) == DamOutcome.Passed));
    }

    [Fact]
    public void Reconfigure_keeps_the_tokens_held_and_refills_at_the_new_rate()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 10), _sink, _clock);
        for (uint i = 1; i <= 6; i++)
        {
            dam.Offer("a", i);
        }

        dam.Reconfigure(1000, 10);
        Assert.Equal(4, dam.Tokens);
        _clock.Advance(TimeSpan.FromMilliseconds(3));
        Assert.Equal(7, dam.Tokens);
    }

    [Fact]
    public void Reconfigure_rejects_bad_values_and_keeps_the_old_ones()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 10), _sink, _clock);
        var error = Assert.Throws<ArgumentException>(() => dam.Reconfigure(0, 0));
        Assert.Contains("`DamOptions.MaxRate` is 0. It must be greater than 0.", error.Message, StringComparison.Ordinal);
        Assert.Contains("`DamOptions.BurstSize` is 0. It must be at least 1.", error.Message, StringComparison.Ordinal);
        Assert.Equal(100, dam.CurrentRate);
    }

    [Fact]
    public void Refused_pass_is_queued_and_not_charged_a_second_token()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 1), _sink, _clock);
        _sink.Refuse = true;
        Assert.Equal(DamOutcome.Queued, dam.Offer("a", 1));
        Assert.Equal(0, dam.Tokens);

        Assert.Equal(0, dam.DrainOnce());
        _sink.Refuse = false;
        Assert.Equal(1, dam.DrainOnce());
        Assert.Equal([1u], _sink.Sequences());
        Assert.Equal(0, dam.Tokens);
    }

    [Fact]
    public void Back_pressure_keeps_every_record_and_delivers_each_once_when_the_sink_recovers()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1000, burst: 20), _sink, _clock);
        for (uint i = 1; i <= 10; i++)
        {
            dam.Offer("a", i);
        }

        _sink.Refuse = true;
        for (uint i = 11; i <= 60; i++)
        {
            Assert.Equal(DamOutcome.Queued, dam.Offer("a", i));
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(0, dam.DrainOnce());
        }

        _sink.Refuse = false;
        while (dam.QueueDepth > 0)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(5));
            dam.DrainOnce();
        }

        Assert.Equal(Enumerable.Range(1, 60).Select(i => (uint)i), _sink.Sequences());
        Assert.Equal(0, dam.Dropped);
        DamTesting.AssertBalanced(dam);
    }

    [Fact]
    public void DrainAll_delivers_everything_queued_ignoring_the_rate()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1), _sink, _clock);
        for (uint i = 1; i <= 100; i++)
        {
            dam.Offer("a", i);
        }

        Assert.True(dam.DrainAll(TimeSpan.FromSeconds(5)));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (uint)i), _sink.Sequences());
        Assert.Equal(0, dam.QueueDepth);
    }

    [Fact]
    public void DrainAll_reports_records_left_when_the_sink_refuses_past_the_timeout()
    {
        using var dam = new Dam(DamTesting.Options(rate: 1, burst: 1), _sink, _clock);
        dam.Offer("a", 1);
        dam.Offer("a", 2);
        _sink.Refuse = true;

        Assert.False(dam.DrainAll(TimeSpan.Zero));
        Assert.Equal(1, dam.QueueDepth);
    }

    [Fact]
    public async Task RunAsync_delivers_queued_records_as_the_clock_advances()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 5), _sink, _clock);
        using var stop = new CancellationTokenSource();
        Task drainer = dam.RunAsync(stop.Token);
        for (uint i = 1; i <= 25; i++)
        {
            dam.Offer("a", i);
        }

        // Bounded: 200 steps of 10 ms of fake time; each step gives the drainer up to 100 ms of real time.
        for (int step = 0; step < 200 && _sink.Count < 25; step++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            SpinWait.SpinUntil(() => dam.QueueDepth == 0 || _sink.Count > step + 5, 100);
        }

        await stop.CancelAsync();
        await drainer;
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (uint)i), _sink.Sequences());
    }

    [Fact]
    public async Task RunAsync_stops_when_cancelled_while_parked()
    {
        using var dam = new Dam(DamTesting.Options(rate: 100, burst: 5), _sink, _clock);
        using var stop = new CancellationTokenSource();
        Task drainer = dam.RunAsync(stop.Token);
        await stop.CancelAsync();
        await drainer.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(drainer.IsCompletedSuccessfully);
    }

    [Fact]
    public void Validate_lists_every_problem()
    {
        var options = new DamOptions { MaxRate = 0, BurstSize = -1, QueueMaxMessages = 0, QueueMaxBytes = 0 };
        Assert.Equal(
            [
                "`DamOptions.MaxRate` is 0. It must be greater than 0.",
                "`DamOptions.BurstSize` is -1. It must be at least 1.",
                "`DamOptions.QueueMaxMessages` is 0. It must be from 1 to 50000000.",
                "`DamOptions.QueueMaxBytes` is 0. It must be from 1 to 1073741824.",
            ],
            options.Validate());
        Assert.Empty(new DamOptions().Validate());
    }

    [Fact]
    public void Defaults_match_the_design()
    {
        var options = new DamOptions();
        Assert.Equal(10_000, options.MaxRate);
        Assert.Equal(50_000, options.BurstSize);
    }
}
