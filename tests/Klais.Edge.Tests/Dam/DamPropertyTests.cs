using FsCheck;
using FsCheck.Fluent;
using Klais.Edge.Dam;
using Klais.Testing;

namespace Klais.Edge.Tests.Dam;

using Dam = Klais.Edge.Dam.Dam;

/// <summary>FsCheck properties over random schedules of offers, clock steps, drains and sink refusals.</summary>
public sealed class DamPropertyTests
{
    private static readonly Gen<Step> StepGen = Gen.Frequency(
        (4, Gen.Choose(1, 40).Select(n => new Step(StepKind.Offer, n))),
        (3, Gen.Choose(1, 100).Select(n => new Step(StepKind.OfferBatch, n))),
        (3, Gen.Choose(0, 50).Select(ms => new Step(StepKind.Advance, ms))),
        (2, Gen.Constant(new Step(StepKind.Drain, 0))),
        (1, Gen.Constant(new Step(StepKind.ToggleSink, 0))));

    private static readonly Arbitrary<Scenario> Scenarios = Arb.From(
        from rate in Gen.Choose(1, 2000)
        from burst in Gen.Choose(1, 100)
        from queue in Gen.Choose(1, 300)
        from steps in Gen.ListOf(StepGen)
        select new Scenario(rate, burst, queue, steps.ToArray()));

    [Fact]
    public void Never_delivers_more_than_burst_plus_rate_times_elapsed() =>
        Prop.ForAll(Scenarios, s => Run(s, (dam, sink, elapsed) => sink.Count <= s.Burst + (s.Rate * elapsed.TotalSeconds) + 1e-9))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Received_equals_passed_plus_dropped_plus_queue_depth() =>
        Prop.ForAll(Scenarios, s => Run(s, (dam, sink, _) =>
                dam.Received == dam.Passed + dam.Dropped + dam.QueueDepth && dam.Passed == sink.Count))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Delivery_order_equals_offer_order() =>
        Prop.ForAll(Scenarios, s => Run(s, (_, sink, _) =>
            {
                uint[] delivered = sink.Sequences();
                return delivered.SequenceEqual(delivered.Order());
            }))
            .QuickCheckThrowOnFailure();

    /// <summary>Plays a scenario and checks <paramref name="holds"/> after every step.</summary>
    private static bool Run(Scenario s, Func<Dam, RecordingSink, TimeSpan, bool> holds)
    {
        var clock = new ManualTimeProvider();
        var sink = new RecordingSink();
        using var dam = new Dam(DamTesting.Options(s.Rate, s.Burst, s.QueueMessages), sink, clock);
        TimeSpan elapsed = TimeSpan.Zero;
        uint sequence = 0;
        foreach (Step step in s.Steps)
        {
            switch (step.Kind)
            {
                case StepKind.Offer:
                    for (int i = 0; i < step.Amount; i++)
                    {
                        dam.Offer("dev", sequence++);
                    }

                    break;
                case StepKind.OfferBatch:
                    long stamp = clock.GetTimestamp();
                    for (int i = 0; i < step.Amount; i++)
                    {
                        dam.Offer(new Admitted("dev"u8, sequence++, "{}"u8, 0), stamp);
                    }

                    break;
                case StepKind.Advance:
                    clock.Advance(TimeSpan.FromMilliseconds(step.Amount));
                    elapsed += TimeSpan.FromMilliseconds(step.Amount);
                    break;
                case StepKind.Drain:
                    dam.DrainOnce();
                    break;
                case StepKind.ToggleSink:
                    sink.Refuse = !sink.Refuse;
                    break;
            }

            if (!holds(dam, sink, elapsed))
            {
                return false;
            }
        }

        return true;
    }

    internal enum StepKind
    {
        Offer,
        OfferBatch,
        Advance,
        Drain,
        ToggleSink,
    }

    internal readonly record struct Step(StepKind Kind, int Amount);

    internal sealed record Scenario(int Rate, int Burst, int QueueMessages, Step[] Steps)
    {
        public override string ToString() =>
            $"rate {Rate}/s, burst {Burst}, queue {QueueMessages}: {string.Join(' ', Steps.Select(x => $"{x.Kind}:{x.Amount}"))}";
    }
}
