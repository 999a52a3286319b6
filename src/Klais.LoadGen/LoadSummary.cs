using System.Text;
using System.Text.Json;

namespace Klais.LoadGen;

/// <summary>What a run sent, by kind.</summary>
internal sealed record LoadSummary(
    long Sent,
    long Valid,
    long TooShort,
    long BadMagic,
    long BadDeviceId,
    long InvalidJson,
    long Replayed,
    long Refused,
    TimeSpan Elapsed)
{
    /// <summary>The reconnect storm of the run (its records are counted in <see cref="Sent"/> and <see cref="Valid"/> too); null without one.</summary>
    public StormSummary? Storm { get; init; }

    public long Bad => TooShort + BadMagic + BadDeviceId + InvalidJson;

    public double Rate => Elapsed > TimeSpan.Zero ? Sent / Elapsed.TotalSeconds : 0;

    /// <summary>The one-line JSON printed on stdout at the end of a run.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("sent", Sent);
            json.WriteNumber("valid", Valid);
            json.WriteStartObject("bad");
            json.WriteNumber("too_short", TooShort);
            json.WriteNumber("bad_magic", BadMagic);
            json.WriteNumber("bad_device_id", BadDeviceId);
            json.WriteNumber("invalid_json", InvalidJson);
            json.WriteEndObject();
            json.WriteNumber("replayed", Replayed);
            json.WriteNumber("refused", Refused);
            json.WriteNumber("elapsed_s", Math.Round(Elapsed.TotalSeconds, 3));
            json.WriteNumber("rate", Math.Round(Rate, 1));
            Storm?.Write(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>
/// What the reconnect storm sent: <see cref="Sent"/> of <see cref="Planned"/> records, the flush starting at
/// <see cref="FlushStartUnixMs"/> (wall clock), <see cref="StartedAfter"/> the start of the run; <see cref="SendTime"/> from
/// its first record to its last (null when the run ended first), with <see cref="LiveDuringSend"/> live datagrams sent
/// meanwhile (the live pace held if that is the live rate times the send time); <see cref="LiveBefore"/> live datagrams
/// went before the storm.
/// </summary>
internal sealed record StormSummary(int Devices, int History, long Planned, long Sent, long FlushStartUnixMs, TimeSpan StartedAfter, TimeSpan? SendTime,
    long LiveDuringSend, long LiveBefore)
{
    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject("storm");
        json.WriteNumber("devices", Devices);
        json.WriteNumber("history", History);
        json.WriteNumber("planned", Planned);
        json.WriteNumber("sent", Sent);
        json.WriteNumber("start_unix_ms", FlushStartUnixMs);
        json.WriteNumber("started_after_s", Math.Round(StartedAfter.TotalSeconds, 3));
        json.WriteNumber("live_before", LiveBefore);
        if (SendTime is { } send)
        {
            json.WriteNumber("send_s", Math.Round(send.TotalSeconds, 3));
            json.WriteNumber("send_rate", Math.Round(Sent / Math.Max(send.TotalSeconds, 1e-6), 1));
            json.WriteNumber("live_during_send", LiveDuringSend);
            json.WriteNumber("live_rate_during_send", Math.Round(LiveDuringSend / Math.Max(send.TotalSeconds, 1e-6), 1));
        }
        else
        {
            json.WriteNull("send_s");
        }

        json.WriteEndObject();
    }
}

/// <summary>Reported about once a second while a run goes on.</summary>
internal readonly record struct LoadProgress(long Sent, double RateLastInterval, TimeSpan Elapsed);
