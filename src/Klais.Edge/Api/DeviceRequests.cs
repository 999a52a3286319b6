using System.Globalization;
using System.Text.Json;
using Klais.Edge.Devices;

namespace Klais.Edge.Api;

/// <summary>Reads a small JSON object body field by field, collecting every problem instead of stopping at the first.</summary>
internal sealed class JsonBody : IDisposable
{
    private readonly JsonDocument? _doc;
    private readonly HashSet<string> _seen = [];

    private JsonBody(JsonDocument? doc, string? error)
    {
        _doc = doc;
        if (error is not null)
        {
            Problems.Add(error);
        }
    }

    public List<string> Problems { get; } = [];

    public bool Ok => Problems.Count == 0;

    /// <summary>Parses the body; a body that is not one JSON object is a problem naming <paramref name="example"/>.</summary>
    public static JsonBody Parse(ReadOnlySpan<byte> body, string example)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException e)
        {
            return new JsonBody(null, "The body is not valid JSON: " + e.Message);
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            return new JsonBody(null, "The body must be a JSON object like " + example + ".");
        }

        return new JsonBody(doc, null);
    }

    /// <summary>Every property; unknown names become problems listing the known ones.</summary>
    public IEnumerable<JsonProperty> Properties(params string[] known)
    {
        if (_doc is null)
        {
            yield break;
        }

        foreach (JsonProperty p in _doc.RootElement.EnumerateObject())
        {
            if (Array.IndexOf(known, p.Name) < 0)
            {
                Problems.Add($"\"{p.Name}\" is not a field here; known: {string.Join(", ", known)}.");
                continue;
            }

            _seen.Add(p.Name);
            yield return p;
        }
    }

    /// <summary>Each required field that did not appear at all is a problem (a field that appeared but was bad has its own).</summary>
    public void Require(params string[] names)
    {
        if (_doc is null)
        {
            return;
        }

        foreach (string name in names)
        {
            if (!_seen.Contains(name))
            {
                Problems.Add($"{name} is missing.");
            }
        }
    }

    public string Error => string.Join(" ", Problems);

    public void Dispose() => _doc?.Dispose();
}

/// <summary><c>POST /blocklist</c>: <c>{"device_id": "sensor-1", "ttl_seconds": 600, "reason": "flooding"}</c>.</summary>
internal sealed record BlockRequest(string DeviceId, TimeSpan Ttl, string Reason)
{
    public const double MaxTtlSeconds = 365 * 24 * 3600;
    public const int MaxReasonLength = 256;
    private const string Example = "{\"device_id\": \"sensor-1\", \"ttl_seconds\": 600, \"reason\": \"flooding\"}";

    public static BlockRequest? Parse(ReadOnlySpan<byte> body, out string? error)
    {
        using JsonBody json = JsonBody.Parse(body, Example);
        string? deviceId = null;
        double? ttl = null;
        string? reason = null;
        foreach (JsonProperty p in json.Properties("device_id", "ttl_seconds", "reason"))
        {
            switch (p.Name)
            {
                case "device_id":
                    deviceId = DeviceIdField(p, json);
                    break;
                case "ttl_seconds":
                    if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out double t) && t > 0 && t <= MaxTtlSeconds)
                    {
                        ttl = t;
                    }
                    else
                    {
                        json.Problems.Add($"ttl_seconds is {p.Value.GetRawText()}. It must be a number of seconds greater than 0 and at most {MaxTtlSeconds.ToString(CultureInfo.InvariantCulture)} (a year).");
                    }

                    break;
                default:
                    if (p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is { Length: > 0 and <= MaxReasonLength } r)
                    {
                        reason = r;
                    }
                    else
                    {
                        json.Problems.Add($"reason must be a non-empty string of at most {MaxReasonLength} characters.");
                    }

                    break;
            }
        }

        json.Require("device_id", "ttl_seconds", "reason");
        error = json.Ok ? null : json.Error;
        return json.Ok ? new BlockRequest(deviceId!, TimeSpan.FromSeconds(ttl!.Value), reason!) : null;
    }

    internal static string? DeviceIdField(JsonProperty p, JsonBody json)
    {
        if (p.Value.ValueKind != JsonValueKind.String)
        {
            json.Problems.Add($"device_id is {p.Value.GetRawText()}; it must be a string.");
            return null;
        }

        string id = p.Value.GetString()!;
        if (DevicePolicy.ValidateDeviceId(id) is { } problem)
        {
            json.Problems.Add(problem);
            return null;
        }

        return id;
    }
}

/// <summary><c>PUT /limits/{device_id}</c>: <c>{"rate": 50, "burst": 100}</c> — datagrams per second and burst size.</summary>
internal sealed record LimitRequest(double Rate, long Burst)
{
    private const long MaxRate = DevicePolicy.MaxLimitRate;
    private const long MaxBurst = DevicePolicy.MaxLimitBurst;
    private const string Example = "{\"rate\": 50, \"burst\": 100}";

    public static LimitRequest? Parse(ReadOnlySpan<byte> body, out string? error)
    {
        using JsonBody json = JsonBody.Parse(body, Example);
        double? rate = null;
        long? burst = null;
        foreach (JsonProperty p in json.Properties("rate", "burst"))
        {
            if (p.Name == "rate")
            {
                // Whole datagrams per second: the kernel's bucket refills in whole tokens, and user space must match it.
                if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt64(out long r) && r >= 1 && r <= MaxRate)
                {
                    rate = r;
                }
                else
                {
                    json.Problems.Add($"rate is {p.Value.GetRawText()}. It must be a whole number of datagrams per second from 1 to {MaxRate.ToString(CultureInfo.InvariantCulture)}.");
                }
            }
            else if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt64(out long b) && b is >= 1 and <= MaxBurst)
            {
                burst = b;
            }
            else
            {
                json.Problems.Add($"burst is {p.Value.GetRawText()}. It must be a whole number from 1 to {MaxBurst.ToString(CultureInfo.InvariantCulture)}.");
            }
        }

        json.Require("rate", "burst");
        error = json.Ok ? null : json.Error;
        return json.Ok ? new LimitRequest(rate!.Value, burst!.Value) : null;
    }
}
