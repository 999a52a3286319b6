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
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>Reported about once a second while a run goes on.</summary>
internal readonly record struct LoadProgress(long Sent, double RateLastInterval, TimeSpan Elapsed);
