using System.Text.Json;
using Klais.Learning.Burst;
using Klais.Train.Evaluation;
using Klais.Train.Recording;
using Klais.Train.Traces;

namespace Klais.Learning.Tests.Train;

[Trait("Category", "Unit")]
public sealed class LabelsAndMetricsTests
{
    [Fact]
    public void A_doubling_is_a_burst_onset_labelled_over_the_horizon_before_it()
    {
        // 100/s for 200 s, then 200/s. The 3 s mean passes 1.5 times the level at 201; the level (EWMA, 60 s) passes
        // 200/1.5 after 24 more seconds.
        FleetSample[] samples = [.. Enumerable.Range(0, 300).Select(t => new FleetSample(t, t < 200 ? 100 : 200, 0, 1, 0, 0))];
        sbyte[] labels = BurstLabels.Compute(samples);

        Assert.Equal([201], BurstLabels.Onsets(samples));
        bool[] surges = BurstLabels.Surges(samples);
        Assert.Equal(Enumerable.Range(201, 24), Enumerable.Range(0, 300).Where(t => surges[t]));
        Assert.Equal(0, labels[170]);
        Assert.All(Enumerable.Range(171, 30), t => Assert.Equal(1, labels[t]));
        Assert.Equal(1, labels[223]);
        Assert.Equal(0, labels[224]);
        Assert.All(Enumerable.Range(270, 30), t => Assert.Equal(BurstLabels.Unknown, labels[t]));
    }

    [Fact]
    public void A_one_second_spike_is_not_a_burst()
    {
        FleetSample[] samples = [.. Enumerable.Range(0, 300).Select(t => new FleetSample(t, t == 200 ? 250 : 100, 0, 1, 0, 0))];
        Assert.Empty(BurstLabels.Onsets(samples));
        Assert.DoesNotContain((sbyte)1, BurstLabels.Compute(samples));
    }

    [Fact]
    public void Auc_of_a_hand_made_case()
    {
        // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of the 4 pairs are ordered right.
        Assert.Equal(0.75, Metrics.Auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 12);
        // A tie counts one half: (0.5 + 1 + 1 + 1) / 4.
        Assert.Equal(0.875, Metrics.Auc([0.5, 0.5, 0.2, 0.9], [true, false, false, true]), 12);
        Assert.Equal(1, Metrics.Auc([0.1, 0.2, 0.3], [false, true, true]), 12);
        Assert.True(double.IsNaN(Metrics.Auc([0.1, 0.2], [false, false])));
    }

    [Fact]
    public void Precision_and_recall_count_alarms_at_one_half()
    {
        (double precision, double recall) = Metrics.PrecisionRecall([0.5, 0.9, 0.2, 0.7, 0.1], [true, false, true, true, false]);
        Assert.Equal(2 / 3.0, precision, 12);
        Assert.Equal(2 / 3.0, recall, 12);
    }

    [Fact]
    public void Lead_is_the_seconds_from_the_first_alarm_in_the_horizon_to_the_onset()
    {
        var p = new double[300];
        p[88] = 0.6;  // before the window of the onset at 120 (90..120): ignored
        p[100] = 0.7; // first alarm in the window: 20 s ahead
        p[110] = 0.9;
        p[170] = 0.5; // an alarm at the onset itself: caught, 0 s ahead
        List<int> leads = Metrics.Leads(p, [120, 170, 260], firstScored: 59, out int bursts);
        Assert.Equal([20, 0], leads);
        Assert.Equal(3, bursts); // 260 had no alarm in 230..260: missed

        Assert.Empty(Metrics.Leads(p, [70], firstScored: 59, out bursts));
        Assert.Equal(0, bursts); // its window starts before the first prediction
    }

    [Fact]
    public void A_swarm_answer_becomes_a_sample_skipping_stale_nodes_and_naming_missing_fields()
    {
        using JsonDocument doc = JsonDocument.Parse("""
            {"packets_per_second": 1234.5, "new_devices_per_second": 3, "burst_probability": 0.1,
             "nodes": [{"kafka_lag": 10, "cpu": 0.2}, {"kafka_lag": 30, "cpu": 0.4, "stale": false}, {"kafka_lag": 999, "cpu": 1, "stale": true}]}
            """);
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        FleetSample sample = SwarmRecorder.Parse(doc.RootElement, 42, missing);
        Assert.Equal(new FleetSample(42, 1234.5, 3, 0, 40, 0.30000000000000004), sample);
        Assert.Equal(["active_devices"], missing);
    }
}
