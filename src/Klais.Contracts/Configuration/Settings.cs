using System.Globalization;
using System.Net;

namespace Klais.Contracts.Configuration;

/// <summary>
/// One setting of a KLAIS process: its environment variable (the name operators use everywhere), the flag derived
/// from it (<c>KLAIS_DAM_MAX_RATE</c> is <c>--dam-max-rate</c>), its default and what it means. Edges and silos
/// describe their settings with it and read them with <see cref="SettingReader"/>.
/// </summary>
public sealed record Setting(string EnvName, string Default, string Description)
{
    public string Flag { get; } = "--" + EnvName["KLAIS_".Length..].ToLowerInvariant().Replace('_', '-');
}

/// <summary>Reads raw values and turns them into typed ones, collecting every problem instead of stopping at the first.</summary>
public sealed class SettingReader(Func<Setting, (string Value, string Source)> lookup)
{
    private readonly List<string> _errors = [];

    public IReadOnlyList<string> Errors => _errors;

    public string Text(Setting s) => lookup(s).Value;

    public string NonEmpty(Setting s)
    {
        (string value, string source) = lookup(s);
        if (string.IsNullOrWhiteSpace(value))
        {
            Fail(s, value, source, "It must not be empty.");
        }

        return value;
    }

    public long WholeNumber(Setting s, long min, long max)
    {
        (string value, string source) = lookup(s);
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) || n < min || n > max)
        {
            Fail(s, value, source, $"It must be a whole number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
            return min;
        }

        return n;
    }

    public double Number(Setting s, double exclusiveMin, double max)
    {
        (string value, string source) = lookup(s);
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double n)
            || !double.IsFinite(n) || n <= exclusiveMin || n > max)
        {
            string low = exclusiveMin < 0 ? "at least 0" : "greater than " + exclusiveMin.ToString(CultureInfo.InvariantCulture);
            Fail(s, value, source, $"It must be a number {low} and at most {max.ToString(CultureInfo.InvariantCulture)}.");
            return max;
        }

        return n;
    }

    public bool Boolean(Setting s)
    {
        (string value, string source) = lookup(s);
        switch (value.Trim().ToLowerInvariant())
        {
            case "true" or "1" or "yes" or "on":
                return true;
            case "false" or "0" or "no" or "off":
                return false;
            default:
                Fail(s, value, source, "It must be true or false.");
                return false;
        }
    }

    public IPEndPoint EndPoint(Setting s)
    {
        (string value, string source) = lookup(s);
        if (!IPEndPoint.TryParse(value, out IPEndPoint? endpoint) || endpoint.Port == 0 && !value.EndsWith(":0", StringComparison.Ordinal)
            || !value.Contains(':', StringComparison.Ordinal))
        {
            // The example is the setting's own default and its IPv6 twin: 0.0.0.0:5000 or [::]:5000.
            string port = IPEndPoint.TryParse(s.Default, out IPEndPoint? fallback) ? fallback.Port.ToString(CultureInfo.InvariantCulture) : "5000";
            Fail(s, value, source, $"It must be an address and port, like {(s.Default.Length > 0 ? s.Default : "0.0.0.0:" + port)} or [::]:{port}.");
            return new IPEndPoint(IPAddress.Loopback, 0);
        }

        return endpoint;
    }

    public string Matching(Setting s, Func<string, bool> rule, string ruleText)
    {
        (string value, string source) = lookup(s);
        if (!rule(value))
        {
            Fail(s, value, source, ruleText);
        }

        return value;
    }

    /// <summary>The choices of an on/off setting (<c>KLAIS_CONTROL</c>, <c>KLAIS_BURST_ADVICE</c>).</summary>
    public static IReadOnlyDictionary<string, bool> OnOff { get; } = new Dictionary<string, bool>(StringComparer.Ordinal) { ["on"] = true, ["off"] = false };

    public T OneOf<T>(Setting s, IReadOnlyDictionary<string, T> choices)
    {
        (string value, string source) = lookup(s);
        if (!choices.TryGetValue(value.Trim().ToLowerInvariant(), out T? result))
        {
            Fail(s, value, source, $"It must be one of: {string.Join(", ", choices.Keys)}.");
            return choices.Values.First();
        }

        return result;
    }

    /// <summary>A rule that spans settings (checked by the caller) failed for <paramref name="s"/>.</summary>
    public void Fail(Setting s, string value, string rule) => Fail(s, value, lookup(s).Source, rule);

    public void Fail(Setting s, string value, string source, string rule) =>
        _errors.Add($"{s.EnvName} is \"{value}\" ({source}). {rule}");
}
