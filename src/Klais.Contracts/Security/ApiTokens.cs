using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Klais.Contracts.Configuration;

namespace Klais.Contracts.Security;

/// <summary>What a bearer token may do on an API; each role includes the ones below it.</summary>
public enum ApiRole
{
    /// <summary>Reading state: health details, stats, metrics, listings, dashboards.</summary>
    Read = 1,

    /// <summary>Acting on the fleet: block and unblock, per-device limits, rate changes.</summary>
    Operate = 2,

    /// <summary>Changing how the fleet is run: policies and configuration.</summary>
    Admin = 3,
}

/// <summary>The answer to one request's credentials: allowed, or a status with the message to send.</summary>
public readonly record struct ApiAccess(int Status, string? Message)
{
    public static ApiAccess Allowed { get; } = new(200, null);

    public bool IsAllowed => Status == 200;
}

/// <summary>
/// The API tokens of an edge or a silo, from <c>KLAIS_API_TOKENS_FILE</c>: one <c>&lt;token&gt; &lt;role&gt;</c> per
/// line (roles <c>read</c>, <c>operate</c>, <c>admin</c>; blank lines and <c>#</c> comments allowed). Without a file the
/// API is open (<see cref="IsOpen"/>), which both programs announce at start and in <c>/health</c>. Tokens are kept only
/// as SHA-256 digests; a request's token is hashed and looked up, so no comparison runs over the secret itself.
/// </summary>
public sealed class ApiTokens
{
    public const int MinTokenLength = 16;

    public static readonly Setting File = new("KLAIS_API_TOKENS_FILE", "",
        "File of '<token> <role>' lines (roles read, operate, admin) that the API requires as 'Authorization: Bearer <token>'; unset: the API is open (a warning at start and in /health).");

    private static readonly Dictionary<string, ApiRole> Roles = new(StringComparer.Ordinal)
    {
        ["read"] = ApiRole.Read,
        ["operate"] = ApiRole.Operate,
        ["admin"] = ApiRole.Admin,
    };

    private readonly Dictionary<string, ApiRole> _byDigest;

    private ApiTokens(Dictionary<string, ApiRole> byDigest, string? source)
    {
        _byDigest = byDigest;
        Source = source;
    }

    public static ApiTokens Open { get; } = new([], null);

    /// <summary>No tokens configured: every request is allowed.</summary>
    public bool IsOpen => Source is null;

    /// <summary>The file the tokens came from; null when open.</summary>
    public string? Source { get; }

    public int Count => _byDigest.Count;

    /// <summary>What <c>/health</c> says of access: <c>tokens</c>, or <c>open</c> with the warning.</summary>
    public string Mode => IsOpen ? "open" : "tokens";

    public const string OpenWarning = "KLAIS_API_TOKENS_FILE is not set: anyone who reaches the API may read and change everything.";

    /// <summary>Reads the <see cref="File"/> setting: open when unset; every problem of the file goes to the reader's errors.</summary>
    public static ApiTokens Read(SettingReader reader)
    {
        string path = reader.Text(File).Trim();
        if (path.Length == 0)
        {
            return Open;
        }

        string[] lines;
        try
        {
            lines = System.IO.File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reader.Fail(File, path, $"It cannot be read: {ex.Message}");
            return Open;
        }

        (ApiTokens tokens, IReadOnlyList<string> problems) = Parse(lines, path);
        foreach (string problem in problems)
        {
            reader.Fail(File, path, problem);
        }

        return tokens;
    }

    /// <summary>Parses the lines of a tokens file; every bad line is a problem of its own, and no line is taken half.</summary>
    public static (ApiTokens Tokens, IReadOnlyList<string> Problems) Parse(IEnumerable<string> lines, string source)
    {
        var byDigest = new Dictionary<string, ApiRole>(StringComparer.Ordinal);
        var problems = new List<string>();
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string at = "Line " + number.ToString(CultureInfo.InvariantCulture);
            if (fields.Length != 2)
            {
                problems.Add($"{at} has {fields.Length} fields; each line is '<token> <role>'.");
                continue;
            }

            if (!Roles.TryGetValue(fields[1].ToLowerInvariant(), out ApiRole role))
            {
                problems.Add($"{at}: role '{fields[1]}' is none of read, operate, admin.");
                continue;
            }

            if (fields[0].Length < MinTokenLength)
            {
                problems.Add($"{at}: the token has {fields[0].Length} characters; at least {MinTokenLength} are required.");
                continue;
            }

            if (!byDigest.TryAdd(Digest(fields[0]), role))
            {
                problems.Add($"{at}: the token is already given on an earlier line.");
            }
        }

        if (byDigest.Count == 0 && problems.Count == 0)
        {
            problems.Add("It holds no token; leave KLAIS_API_TOKENS_FILE unset for an open API.");
        }

        return (new ApiTokens(byDigest, source), problems);
    }

    /// <summary>
    /// Checks an <c>Authorization</c> header against the role an endpoint needs: 401 without a known bearer token,
    /// 403 with a role too low, each with a message that says which.
    /// </summary>
    public ApiAccess Check(string? authorization, ApiRole required)
    {
        if (IsOpen)
        {
            return ApiAccess.Allowed;
        }

        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return new ApiAccess(401, $"This endpoint needs 'Authorization: Bearer <token>' with the role {Name(required)} or higher.");
        }

        if (!_byDigest.TryGetValue(Digest(authorization[Scheme.Length..].Trim()), out ApiRole role))
        {
            return new ApiAccess(401, "The bearer token is not known here.");
        }

        return role >= required ? ApiAccess.Allowed
            : new ApiAccess(403, $"This endpoint needs the role {Name(required)}; the token has {Name(role)}.");
    }

    public static string Name(ApiRole role) => role switch
    {
        ApiRole.Read => "read",
        ApiRole.Operate => "operate",
        _ => "admin",
    };

    private static string Digest(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
