using System.Text.Json;
using Klais.Learning.Burst;
using Klais.Train.Traces;

namespace Klais.Train.Recording;

/// <summary>
/// Records a trace from a running fleet: polls the silo's <c>GET /api/swarm</c> once a second and turns each answer
/// into a <see cref="FleetSample"/> (<see cref="Parse"/>); labels are derived when the recording ends, as for a
/// simulated trace. A second whose poll fails repeats the previous sample, so the trace stays one row a second.
/// </summary>
internal sealed class SwarmRecorder(HttpClient http, Uri silo, TimeProvider time, TextWriter log)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    /// <summary>Records for <paramref name="seconds"/> seconds or until cancelled; null when no poll ever succeeded.</summary>
    public async Task<FleetTrace?> RecordAsync(string name, int seconds, CancellationToken cancel)
    {
        var samples = new List<FleetSample>(seconds);
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        int failures = 0;
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            for (int i = 0; i < seconds; i++)
            {
                long unix = time.GetUtcNow().ToUnixTimeSeconds();
                FleetSample? sample = await PollAsync(unix, missing, cancel);
                if (sample is null)
                {
                    failures++;
                    sample = samples.Count > 0 ? samples[^1] with { UnixSeconds = unix } : null;
                }

                if (sample is { } s)
                {
                    samples.Add(s);
                }

                if (i + 1 < seconds)
                {
                    await timer.WaitForNextTickAsync(cancel);
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            log.WriteLine($"record: stopped after {samples.Count} s");
        }

        if (missing.Count > 0)
        {
            log.WriteLine($"record: /api/swarm lacked {string.Join(", ", missing)}; recorded as 0");
        }

        if (failures > 0)
        {
            log.WriteLine($"record: {failures} poll(s) failed; those seconds repeat the previous sample");
        }

        return samples.Count == 0 ? null : FleetTrace.Labelled(name, [.. samples]);
    }

    /// <summary>
    /// One fleet sample from an <c>/api/swarm</c> answer: <c>packets_per_second</c>, <c>new_devices_per_second</c> (the
    /// reconnects), <c>active_devices</c>, and over <c>nodes[]</c> the sum of <c>kafka_lag</c> and the mean <c>cpu</c> of the
    /// nodes not marked <c>stale</c>. A field that is absent counts as 0 and its name goes to <paramref name="missing"/>.
    /// </summary>
    public static FleetSample Parse(JsonElement swarm, long unixSeconds, ISet<string> missing)
    {
        double lag = 0, cpu = 0;
        int nodes = 0;
        if (swarm.TryGetProperty("nodes", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement node in list.EnumerateArray())
            {
                if (node.TryGetProperty("stale", out JsonElement stale) && stale.ValueKind == JsonValueKind.True)
                {
                    continue;
                }

                lag += Number(node, "kafka_lag", "nodes[].kafka_lag", missing);
                cpu += Number(node, "cpu", "nodes[].cpu", missing);
                nodes++;
            }
        }
        else
        {
            missing.Add("nodes");
        }

        return new FleetSample(
            unixSeconds,
            Number(swarm, "packets_per_second", "packets_per_second", missing),
            Number(swarm, "new_devices_per_second", "new_devices_per_second", missing),
            Number(swarm, "active_devices", "active_devices", missing),
            lag,
            nodes == 0 ? 0 : cpu / nodes);
    }

    private static double Number(JsonElement element, string property, string path, ISet<string> missing)
    {
        if (element.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.Number)
        {
            return value.GetDouble();
        }

        missing.Add(path);
        return 0;
    }

    private async Task<FleetSample?> PollAsync(long unix, ISet<string> missing, CancellationToken cancel)
    {
        // A poll may take most of the second, not more: the next one is due.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(Period * 0.9);
        try
        {
            using HttpResponseMessage response = await http.GetAsync(new Uri(silo, "/api/swarm"), deadline.Token);
            if (!response.IsSuccessStatusCode)
            {
                log.WriteLine($"record: /api/swarm answered {(int)response.StatusCode}");
                return null;
            }

            await using Stream body = await response.Content.ReadAsStreamAsync(deadline.Token);
            using JsonDocument doc = await JsonDocument.ParseAsync(body, cancellationToken: deadline.Token);
            return Parse(doc.RootElement, unix, missing);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
        {
            log.WriteLine($"record: polling {silo} failed: {e.Message}");
            return null;
        }
    }
}
