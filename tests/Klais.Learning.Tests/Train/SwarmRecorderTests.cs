using System.Globalization;
using System.Net;
using Klais.Learning.Burst;
using Klais.Testing;
using Klais.Train.Recording;
using Klais.Train.Traces;

namespace Klais.Learning.Tests.Train;

[Trait("Category", "Unit")]
public sealed class SwarmRecorderTests
{
    [Fact]
    public async Task A_recording_is_a_row_a_second_and_a_failed_poll_repeats_the_previous_row()
    {
        var start = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var time = new ManualTimeProvider(start);
        using var handler = new SwarmStub(poll => poll == 3
            ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
            : new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"packets_per_second": {{100 * poll}}, "new_devices_per_second": 1, "active_devices": 50, "nodes": [{"kafka_lag": 7, "cpu": 0.5}]}""")),
            });
        using var http = new HttpClient(handler);
        using var log = new StringWriter();
        var recorder = new SwarmRecorder(http, new Uri("http://silo.test:8090"), time, log);

        Task<FleetTrace?> recording = recorder.RecordAsync("r", 4, CancellationToken.None);
        for (int poll = 1; poll < 4; poll++)
        {
            Assert.True(await Eventually.TrueAsync(() => handler.Polls == poll, TimeSpan.FromSeconds(10)));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        FleetTrace trace = (await recording.WaitAsync(TimeSpan.FromSeconds(10)))!;
        Assert.Equal(["http://silo.test:8090/api/swarm"], handler.Paths.Distinct());
        Assert.Equal([100.0, 200.0, 200.0, 400.0], trace.Samples.Select(s => s.PacketsPerSecond));
        Assert.Equal(Enumerable.Range(0, 4).Select(i => start.ToUnixTimeSeconds() + i), trace.Samples.Select(s => s.UnixSeconds));
        Assert.Equal(new FleetSample(start.ToUnixTimeSeconds(), 100, 1, 50, 7, 0.5), trace.Samples[0]);
        Assert.All(trace.Labels, l => Assert.Equal(BurstLabels.Unknown, l)); // 4 s: shorter than the horizon
        Assert.Contains("503", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("1 poll(s) failed", log.ToString(), StringComparison.Ordinal);
    }

    private sealed class SwarmStub(Func<int, HttpResponseMessage> answer) : HttpMessageHandler
    {
        private int _polls;

        public List<string> Paths { get; } = [];

        public int Polls => Volatile.Read(ref _polls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Paths)
            {
                Paths.Add(request.RequestUri!.ToString());
            }

            return Task.FromResult(answer(Interlocked.Increment(ref _polls)));
        }
    }
}
