using System.Collections.Frozen;
using Klais.Silo.Api;

namespace Klais.Silo.Dashboard;

/// <summary>
/// The fleet dashboard: static files embedded in the silo (Dashboard/assets), served at <c>/</c> and <c>/ui/{file}</c>
/// without a token, since they hold no data. The page polls the JSON API with the token its viewer typed, so a silo
/// does nothing for a dashboard nobody has open. The policy header keeps the page from loading anything from elsewhere.
/// </summary>
internal static class DashboardPage
{
    private const string Prefix = "dashboard/";

    private const string Policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    private static readonly FrozenDictionary<string, (byte[] Content, string Type)> Files = Load();

    public static void Map(WebApplication app)
    {
        app.MapGet("/", () => Serve("index.html")).WithMetadata(ApiRoles.Open);
        app.MapGet("/ui/{file}", (string file) => Serve(file)).WithMetadata(ApiRoles.Open);
    }

    private static IResult Serve(string file) => Files.TryGetValue(file, out var asset)
        ? new AssetResult(asset.Content, asset.Type)
        : GrainApi.NotFound($"The dashboard has no file {file}.");

    private static FrozenDictionary<string, (byte[], string)> Load()
    {
        var assembly = typeof(DashboardPage).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            string file = name[Prefix.Length..];
            string type = Path.GetExtension(file) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[file] = (buffer.ToArray(), type);
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed class AssetResult(byte[] content, string type) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.ContentType = type;
            context.Response.Headers.ContentSecurityPolicy = Policy;
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.ContentLength = content.Length;
            return context.Response.Body.WriteAsync(content).AsTask();
        }
    }
}
