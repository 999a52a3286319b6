using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Klais.LoadGen;

internal static class Program
{
    public static int Main(string[] args)
    {
        var commandLine = new LoadGenCommandLine();
        ParseResult parsed = commandLine.Root.Parse(args);
        if (LoadGenCommandLine.IsInformational(parsed))
        {
            return parsed.Invoke();
        }

        LoadGeneratorOptions? options = commandLine.Parse(parsed, out List<string> errors);
        if (options is null)
        {
            Console.Error.WriteLine("klais-loadgen: bad arguments:");
            foreach (string error in errors)
            {
                Console.Error.WriteLine("  " + error);
            }

            return 2;
        }

        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl-C stops the run and still prints the summary.
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using PosixSignalRegistration onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        try
        {
            LoadSummary summary = new LoadGenerator(options).Run(static p =>
                Console.Error.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"t={p.Elapsed.TotalSeconds:F1}s sent={p.Sent} rate={p.RateLastInterval:F0}/s")),
                stop.Token);
            Console.Out.WriteLine(summary.ToJson());
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
