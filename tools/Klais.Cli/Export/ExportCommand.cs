using Klais.Client;

namespace Klais.Cli.Export;

/// <summary><c>klais export</c>: reads a time range from a silo and writes it as JSON, CSV or HTML.</summary>
internal static class ExportCommand
{
    public static async Task<int> RunAsync(Uri silo, string? token, DateTimeOffset from, DateTimeOffset to, string format, string output, CancellationToken cancel)
    {
        using var api = new KlaisApiClient(silo, token);
        FleetExport export;
        try
        {
            export = await FleetExport.ReadAsync(api, silo.ToString(), from, to, TimeProvider.System, cancel);
        }
        catch (Exception ex) when (ex is HttpRequestException or KlaisApiException)
        {
            await Console.Error.WriteLineAsync("klais export: " + ex.Message);
            return 1;
        }

        switch (format)
        {
            case "json":
                ExportWriters.Json(export, output);
                break;
            case "csv":
                ExportWriters.Csv(export, output);
                break;
            default:
                ExportWriters.Html(export, output);
                break;
        }

        Console.WriteLine($"klais export: {export.Nodes.Count} nodes, {export.Anomalies.Count} anomalies, {export.Blocks.Count} block events -> {output}");
        return 0;
    }
}
