using System.Globalization;
using Klais.Learning.Burst;

namespace Klais.Train.Traces;

/// <summary>
/// A trace on disk: one CSV per trace, a header and one row a second, invariant culture. The label column
/// <c>burst</c> is 1, 0, or empty where the trace ends before the horizon does.
/// </summary>
internal static class TraceCsv
{
    public const string Header = "unix_seconds,packets_per_second,reconnects_per_second,active_devices,kafka_lag,cpu,burst";

    public static void Write(string path, FleetTrace trace)
    {
        using var writer = new StreamWriter(path, append: false) { NewLine = "\n" };
        writer.WriteLine(Header);
        for (int t = 0; t < trace.Samples.Length; t++)
        {
            FleetSample s = trace.Samples[t];
            string label = trace.Labels[t] == BurstLabels.Unknown ? "" : trace.Labels[t].ToString(CultureInfo.InvariantCulture);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.UnixSeconds},{s.PacketsPerSecond:0.###},{s.ReconnectsPerSecond:0.###},{s.ActiveDevices:0.###},{s.KafkaLag:0.###},{s.Cpu:0.####},{label}"));
        }
    }

    /// <summary>Reads a trace; the labels are taken from the file (a trace is labelled once, when it is written).</summary>
    public static FleetTrace Read(string path)
    {
        var samples = new List<FleetSample>();
        var labels = new List<sbyte>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1)
            {
                if (line.Trim() != Header)
                {
                    throw new InvalidDataException($"{path}: the first line must be the header \"{Header}\".");
                }

                continue;
            }

            if (line.Length == 0)
            {
                continue;
            }

            string[] cells = line.Split(',');
            if (cells.Length != 7)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: expected 7 columns, found {cells.Length}.");
            }

            samples.Add(new FleetSample(
                long.Parse(cells[0], CultureInfo.InvariantCulture), Number(cells[1]), Number(cells[2]), Number(cells[3]), Number(cells[4]), Number(cells[5])));
            labels.Add(cells[6] switch
            {
                "" => BurstLabels.Unknown,
                "0" => 0,
                "1" => 1,
                _ => throw new InvalidDataException($"{path}:{lineNumber}: burst must be 0, 1 or empty, found \"{cells[6]}\"."),
            });

            double Number(string cell) => double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
                ? v
                : throw new InvalidDataException($"{path}:{lineNumber}: \"{cell}\" is not a number.");
        }

        return new FleetTrace(Path.GetFileNameWithoutExtension(path), [.. samples], [.. labels]);
    }

    /// <summary>Every <c>*.csv</c> in <paramref name="directory"/>, in name order.</summary>
    public static List<FleetTrace> ReadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Trace directory {directory} does not exist.");
        }

        string[] files = Directory.GetFiles(directory, "*.csv");
        Array.Sort(files, StringComparer.Ordinal);
        if (files.Length == 0)
        {
            throw new InvalidDataException($"Trace directory {directory} holds no *.csv file.");
        }

        return [.. files.Select(Read)];
    }
}
