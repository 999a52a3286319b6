using Klais.Edge.Control;
using Klais.Edge.Tests.EndToEnd;
using Klais.Testing;

namespace Klais.Edge.Tests.Control;

/// <summary>The edge's report loop (<see cref="EdgeControl"/>) runs on the node's <see cref="TimeProvider"/>, not on the wall clock.</summary>
[Collection(ControlPlaneFixture.Collection)]
public sealed class ReportScheduleTests(ControlPlaneFixture plane) : IClassFixture<ControlPlaneFixture>
{
    [Fact]
    public async Task Node_reports_go_out_when_the_nodes_clock_passes_an_interval_and_not_while_it_stands_still()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using EdgeHarness edge = await EdgeHarness.StartAsync(plane.EdgeConfig("edge-clock"), clock); // reports every 200 ms
        EdgeControl control = edge.Node.Control!;

        // The reporter starts off the start path: move the clock until its first report is out.
        Assert.True(await Eventually.TrueAsync(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            return control.NodeReports >= 1;
        }, TimeSpan.FromSeconds(20)), "no node report however far the clock moved");

        // Real time passes, the node's clock stands still: nothing is sent (on the wall clock, 5 intervals).
        await Task.Delay(TimeSpan.FromMilliseconds(500)); // the loop catches up with the clock's last move
        long reports = control.NodeReports;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(reports, control.NodeReports);

        // Each interval of the node's clock sends exactly one report.
        for (int i = 1; i <= 3; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            long expected = reports + i;
            Assert.True(await Eventually.TrueAsync(() => control.NodeReports >= expected, TimeSpan.FromSeconds(10)), $"report {expected} did not go out");
            await Task.Delay(50);
            Assert.Equal(expected, control.NodeReports);
        }
    }
}
