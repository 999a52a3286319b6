using System.CommandLine;
using System.CommandLine.Parsing;
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
        var root = new RootCommand("klais: the operator's command line for a KLAIS fleet.") { top };
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
}
