using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Klais.Learning.Burst;
using Klais.Train.Evaluation;
using Klais.Train.Fitting;
using Klais.Train.Outliers;
using Klais.Train.Recording;
using Klais.Train.Simulation;
using Klais.Train.Traces;

namespace Klais.Train;

/// <summary>
/// klais-train: simulate | record | fit | evaluate for the burst model, outliers for the fleet outlier model (docs/learning.md).
/// Exit codes: 0 done, 1 the work failed (message on stderr), 2 bad arguments (the message names the flag).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("klais-train: traces, training and evaluation of the burst model (docs/learning.md).")
        {
            SimulateCommand(), RecordCommand(), FitCommand(), EvaluateCommand(), OutliersCommand(),
        };
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (ParseError error in parsed.Errors)
            {
                Console.Error.WriteLine("klais-train: " + error.Message);
            }

            return 2;
        }

        return parsed.Invoke();
    }

    private static Command SimulateCommand()
    {
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed gives the same traces.", Required = true };
        var minutes = Bounded(new Option<int>("--minutes") { Description = "Length of each trace.", DefaultValueFactory = _ => 30 }, 2, 24 * 60);
        var traces = Bounded(new Option<int>("--traces") { Description = "Traces to write.", DefaultValueFactory = _ => 4 }, 1, 1000);
        var output = new Option<string>("--out") { Description = "Directory for the CSV files (created).", Required = true };
        var command = new Command("simulate", "Write simulated fleet traces, one CSV per trace, one row a second, labelled.")
        {
            seed, minutes, traces, output,
        };
        command.SetAction(parsed => Run(() =>
        {
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);
            int baseSeed = parsed.GetValue(seed);
            var simulator = new FleetSimulator(new SimulatorOptions());
            for (int i = 0; i < parsed.GetValue(traces); i++)
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"sim-s{baseSeed}-{i:D3}");
                (FleetTrace trace, List<SimulatedEvent> events) = simulator.Simulate(name, TraceSeed(baseSeed, i), parsed.GetValue(minutes) * 60);
                string path = Path.Combine(directory, name + ".csv");
                TraceCsv.Write(path, trace);
                Console.Out.WriteLine(Summary(path, trace) + " events: "
                    + string.Join(" ", events.Where(e => e.Kind != "blip").Select(e => $"{e.Kind}@{e.Start}")));
            }
        }));
        return command;
    }

    private static Command RecordCommand()
    {
        var silo = new Option<Uri?>("--silo") { Description = "Silo API base URL, e.g. http://127.0.0.1:8090.", Required = true };
        silo.CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https")
            {
                return uri;
            }

            result.AddError($"--silo must be an absolute http:// or https:// URL, got \"{text}\".");
            return null;
        };
        var output = new Option<string>("--out") { Description = "Directory for the CSV file (created).", Required = true };
        var seconds = Bounded(new Option<int>("--seconds") { Description = "How long to record.", DefaultValueFactory = _ => 600 }, 1, 7 * 86_400);
        var command = new Command("record", "Record a labelled trace from a running fleet, polling GET /api/swarm once a second.")
        {
            silo, output, seconds,
        };
        command.SetAction(async (parsed, cancel) =>
        {
            string directory = parsed.GetValue(output)!;
            Directory.CreateDirectory(directory);
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            var recorder = new SwarmRecorder(http, parsed.GetValue(silo)!, TimeProvider.System, Console.Error);
            string name = "record-" + TimeProvider.System.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            FleetTrace? trace = await recorder.RecordAsync(name, parsed.GetValue(seconds), cancel);
            if (trace is null)
            {
                Console.Error.WriteLine($"klais-train: no answer from {new Uri(parsed.GetValue(silo)!, "/api/swarm")}; nothing recorded.");
                return 1;
            }

            string path = Path.Combine(directory, name + ".csv");
            TraceCsv.Write(path, trace);
            Console.Out.WriteLine(Summary(path, trace));
            return 0;
        });
        return command;
    }

    private static Command FitCommand()
    {
        var traces = new Option<string>("--traces") { Description = "Directory of labelled trace CSVs to train on.", Required = true };
        var output = new Option<string>("--out") { Description = "The ONNX file to write.", Required = true };
        var trees = Bounded(new Option<int>("--trees") { Description = "Trees in the ensemble.", DefaultValueFactory = _ => new TrainerOptions().Trees }, 1, 2000);
        var leaves = Bounded(new Option<int>("--leaves") { Description = "Leaves per tree.", DefaultValueFactory = _ => new TrainerOptions().Leaves }, 2, 256);
        var command = new Command("fit", "Train the burst classifier (ML.NET FastTree) on traces and write it as ONNX.")
        {
            traces, output, trees, leaves,
        };
        command.SetAction(parsed => Run(() =>
        {
            List<FleetTrace> data = TraceCsv.ReadDirectory(parsed.GetValue(traces)!);
            FittedModel fitted = BurstTrainer.Fit(data, new TrainerOptions { Trees = parsed.GetValue(trees), Leaves = parsed.GetValue(leaves) });
            string path = parsed.GetValue(output)!;
            if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent)
            {
                Directory.CreateDirectory(parent);
            }

            using (FileStream stream = File.Create(path))
            {
                BurstTrainer.WriteOnnx(fitted, stream);
            }

            if (!BurstModel.TryLoad(path, out BurstModel? model, out string error))
            {
                throw new InvalidOperationException("The written model does not load: " + error);
            }

            using (model)
            {
                double difference = BurstTrainer.OnnxDifference(fitted, model);
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"fit: {fitted.Features.Length} rows ({fitted.Positives} burst) from {data.Count} traces; wrote {path} "
                    + $"({new FileInfo(path).Length} bytes, {model.Version}); max |ML.NET - ONNX Runtime| = {difference:G3}"));
                Console.Out.WriteLine("fit: split gain " + string.Join(", ", fitted.Gain.Select((g, i) => (g, i)).OrderByDescending(x => x.g)
                    .Select(x => string.Create(CultureInfo.InvariantCulture, $"{BurstFeatures.Names[x.i]} {100 * x.g:F0}%"))));
                if (difference > 1e-5)
                {
                    throw new InvalidOperationException($"ONNX Runtime's probabilities differ from ML.NET's by up to {difference:G3} (> 1e-5).");
                }
            }
        }));
        return command;
    }

    private static Command EvaluateCommand()
    {
        var modelPath = new Option<string>("--model") { Description = "The ONNX model to evaluate.", Required = true };
        var traces = new Option<string>("--traces") { Description = "Directory of labelled trace CSVs (held out from training).", Required = true };
        var command = new Command("evaluate", "Score the model (through ONNX Runtime, as the silo runs it) and the Holt heuristic on the same traces.")
        {
            modelPath, traces,
        };
        command.SetAction(parsed => Run(() =>
        {
            List<FleetTrace> data = TraceCsv.ReadDirectory(parsed.GetValue(traces)!);
            if (!BurstModel.TryLoad(parsed.GetValue(modelPath)!, out BurstModel? model, out string error))
            {
                throw new InvalidOperationException(error);
            }

            using (model)
            {
                Console.Out.WriteLine(Line("model", BurstEvaluator.Score(data, t => BurstEvaluator.ModelProbabilities(model, t))));
            }

            Console.Out.WriteLine(Line("heuristic", BurstEvaluator.Score(data, BurstEvaluator.HeuristicProbabilities)));
        }));
        return command;
    }

    private static Command OutliersCommand()
    {
        var seed = new Option<int>("--seed") { Description = "Seed of the simulated fleet.", Required = true };
        var devices = Bounded(new Option<int>("--devices") { Description = "Devices in the fleet.", DefaultValueFactory = _ => 20_000 }, 300, 2_000_000);
        var windows = Bounded(new Option<int>("--windows") { Description = "Report windows of history before the scored one.", DefaultValueFactory = _ => 30 }, 8, 10_000);
        var share = BoundedNumber(new Option<double>("--share") { Description = "Share of devices with an injected anomaly in the scored window.", DefaultValueFactory = _ => 0.02 }, 0.001, 0.5);
        var threshold = BoundedNumber(new Option<double>("--threshold") { Description = "Isolation-forest score from which a device is an outlier.", DefaultValueFactory = _ => DefaultOutlierThreshold }, 0.3, 1);
        var z = BoundedNumber(new Option<double>("--z") { Description = "|z-score| from which the per-device baseline flags a device (the silo's KLAIS_ANOMALY_Z).", DefaultValueFactory = _ => 4 }, 0.5, 100);
        var command = new Command("outliers", "Evaluate the fleet outlier model (isolation forest) against the per-device z-score on injected anomalies.")
        {
            seed, devices, windows, share, threshold, z,
        };
        command.SetAction(parsed => Run(() =>
        {
            foreach (string line in OutlierEvaluator.Run(parsed.GetValue(seed), parsed.GetValue(devices), parsed.GetValue(windows),
                parsed.GetValue(share), parsed.GetValue(threshold), parsed.GetValue(z)))
            {
                Console.Out.WriteLine(line);
            }
        }));
        return command;
    }

    /// <summary>The outlier threshold chosen on seed 3 (docs/learning.md).</summary>
    internal const double DefaultOutlierThreshold = 0.65;

    private static Option<double> BoundedNumber(Option<double> option, double min, double max)
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max)
            {
                return value;
            }

            result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be a number between {min} and {max}, got \"{text}\"."));
            return 0;
        };
        return option;
    }

    internal static string Line(string name, Scores s) => string.Create(CultureInfo.InvariantCulture,
        $"{name} auc={s.Auc:F4} precision={s.Precision:F4} recall={s.Recall:F4} lead_seconds={s.LeadSeconds:F2} bursts_caught={s.BurstsCaught}/{s.Bursts}");

    /// <summary>Seed of the i-th trace of a run: distinct per trace, the same on every machine.</summary>
    internal static int TraceSeed(int seed, int index) => unchecked((seed * 1_000_003) + index);

    private static string Summary(string path, FleetTrace trace)
    {
        int known = trace.Labels.Count(l => l != BurstLabels.Unknown);
        int positive = trace.Labels.Count(l => l == 1);
        return string.Create(CultureInfo.InvariantCulture,
            $"wrote {path}: {trace.Samples.Length} s, {BurstLabels.Onsets(trace.Samples).Count} bursts, "
            + $"{(known == 0 ? 0 : 100.0 * positive / known):F1}% burst seconds;");
    }

    /// <summary>An integer flag whose value must lie in [min, max]; anything else is a parse error naming the flag.</summary>
    private static Option<int> Bounded(Option<int> option, int min, int max)
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
            {
                return value;
            }

            result.AddError($"{option.Name} must be an integer between {min} and {max}, got \"{text}\".");
            return 0;
        };
        return option;
    }

    private static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException)
        {
            Console.Error.WriteLine("klais-train: " + e.Message);
            return 1;
        }
    }
}
