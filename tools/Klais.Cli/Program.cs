using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Klais.Cli.Export;
using Klais.Cli.Top;

namespace Klais.Cli;

/// <summary>klais: the operator's command line. Exit codes: 0 done, 1 the work failed, 2 bad arguments.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var silo = new Option<Uri>("--silo") { Description = "Any silo's API, e.g. http://127.0.0.1:8081.", DefaultValueFactory = _ => new Uri("http://127.0.0.1:8081") };
        var token = new Option<string?>("--token") { Description = "Bearer token (role read); default: the KLAIS_TOKEN environment variable." };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes.", DefaultValueFactory = _ => 1 };
        interval.Validators.Add(r =>
        {
            if (r.GetValue(interval) is < 0.2 or > 60)
            {
                r.AddError("--interval must be from 0.2 to 60 seconds.");
            }
        });
        var top = new Command("top", "The fleet view in the terminal: edges, fleet rate, anomalies and blocks, refreshing live.") { silo, token, interval };
        top.SetAction((parsed, cancel) => TopCommand.RunAsync(parsed.GetValue(silo)!, parsed.GetValue(token) ?? Environment.GetEnvironmentVariable("KLAIS_TOKEN"),
            TimeSpan.FromSeconds(parsed.GetValue(interval)), cancel));
        var root = new RootCommand("klais: the operator's command line for a KLAIS fleet.") { top, ExportCommandLine(silo, token) };
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (ParseError error in parsed.Errors)
            {
                Console.Error.WriteLine("klais: " + error.Message);
            }

            return 2;
        }

        return parsed.Invoke();
    }

    private static Command ExportCommandLine(Option<Uri> silo, Option<string?> token)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var from = new Option<DateTimeOffset>("--from") { Description = "Start of the range (ISO 8601, e.g. 2026-11-27T10:00:00Z); default: an hour ago.", DefaultValueFactory = _ => now.AddHours(-1), CustomParser = Time };
        var to = new Option<DateTimeOffset>("--to") { Description = "End of the range (ISO 8601); default: now.", DefaultValueFactory = _ => now, CustomParser = Time };
        var format = new Option<string>("--format") { Description = "json (one document), csv (nodes.csv, anomalies.csv, blocks.csv in --out), html (one self-contained page).", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "csv", "html");
        var output = new Option<string>("--out") { Description = "File to write (a folder for csv).", Required = true };
        var export = new Command("export", "Nodes, anomalies and blocks over a time range, as JSON, CSV or HTML.") { silo, token, from, to, format, output };
        export.Validators.Add(r =>
        {
            if (r.GetValue(from) >= r.GetValue(to))
            {
                r.AddError("--from must be before --to.");
            }
        });
        export.SetAction((parsed, cancel) => ExportCommand.RunAsync(parsed.GetValue(silo)!, parsed.GetValue(token) ?? Environment.GetEnvironmentVariable("KLAIS_TOKEN"),
            parsed.GetValue(from), parsed.GetValue(to), parsed.GetValue(format)!, parsed.GetValue(output)!, cancel));
        return export;
    }

    private static DateTimeOffset Time(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset at))
        {
            return at;
        }

        result.AddError($"'{text}' is not a time; use ISO 8601 such as 2026-11-27T10:00:00Z.");
        return default;
    }
}
