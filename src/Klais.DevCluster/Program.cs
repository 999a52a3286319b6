using System.CommandLine;
using System.Runtime.InteropServices;
using Klais.Kafka;

namespace Klais.DevCluster;

/// <summary>
/// klais-devcluster: librdkafka's in-memory mock cluster as a process, for the demo and multi-process tests.
/// Prints <c>bootstrap=&lt;list&gt;</c> as its first stdout line, then runs until SIGINT or SIGTERM.
/// Exit codes: 0 after a signal, 2 for bad arguments, 1 when the cluster cannot start.
/// </summary>
internal static class Program
{
    private const int ExitBadArguments = 2;

    public static int Main(string[] args)
    {
        var brokers = new Option<int>("--brokers") { Description = "Number of mock brokers (ids 1..n).", DefaultValueFactory = _ => 1 };
        var topics = new Option<string[]>("--topic")
        {
            Description = "Topic to create, name[:partitions[:replication]]; repeatable. Partitions default to 1.",
            AllowMultipleArgumentsPerToken = false,
        };
        var bootstrapFile = new Option<FileInfo?>("--bootstrap-file") { Description = "Also write the bootstrap list to this file." };
        var root = new RootCommand("Runs librdkafka's in-memory mock Kafka cluster until SIGINT/SIGTERM. Not durable: for tests and demos only.")
        {
            brokers,
            topics,
            bootstrapFile,
        };

        ParseResult parsed = root.Parse(args);
        if (parsed.Action is not null && parsed.Errors.Count == 0)
        {
            return parsed.Invoke(); // --help, --version
        }

        var problems = parsed.Errors.Select(e => e.Message).ToList();
        int brokerCount = parsed.GetValue(brokers);
        if (brokerCount < 1)
        {
            problems.Add($"--brokers is {brokerCount}. It must be 1 or greater.");
        }

        var specs = new List<TopicSpec>();
        foreach (string text in parsed.GetValue(topics) ?? [])
        {
            if (TopicSpec.TryParse(text, brokerCount, out TopicSpec? spec, out string? problem))
            {
                specs.Add(spec!);
            }
            else
            {
                problems.Add(problem!);
            }
        }

        problems.AddRange(specs.GroupBy(s => s.Name).Where(g => g.Count() > 1).Select(g => $"--topic '{g.Key}' is given {g.Count()} times. Give each topic once."));
        if (problems.Count > 0)
        {
            foreach (string problem in problems)
            {
                Console.Error.WriteLine($"klais-devcluster: {problem}");
            }

            Console.Error.WriteLine("Usage: klais-devcluster [--brokers N] [--topic name[:partitions[:replication]]]... [--bootstrap-file PATH]");
            return ExitBadArguments;
        }

        return Run(brokerCount, specs, parsed.GetValue(bootstrapFile));
    }

    private static int Run(int brokers, List<TopicSpec> topics, FileInfo? bootstrapFile)
    {
        using var stop = new ManualResetEventSlim();
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers);
        foreach (TopicSpec topic in topics)
        {
            cluster.CreateTopic(topic.Name, topic.Partitions, topic.ReplicationFactor);
        }

        if (bootstrapFile is not null)
        {
            File.WriteAllText(bootstrapFile.FullName, cluster.BootstrapServers + "\n");
        }

        // First line on stdout, flushed at once: scripts and tests wait for it.
        Console.Out.WriteLine($"bootstrap={cluster.BootstrapServers}");
        Console.Out.Flush();
        Console.Error.WriteLine(
            $"klais-devcluster: {brokers} in-memory mock broker(s), librdkafka {Librdkafka.Version}. "
            + "NOT DURABLE: everything is kept in RAM, never compacted, and lost on exit. For tests and demos only.");
        foreach (TopicSpec topic in topics)
        {
            Console.Error.WriteLine($"klais-devcluster: topic {topic.Name}, {topic.Partitions} partition(s), replication {topic.ReplicationFactor}");
        }

        stop.Wait();
        Console.Error.WriteLine("klais-devcluster: stopping");
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // we exit on our own, after disposing the cluster
            stop.Set();
        }
    }
}
