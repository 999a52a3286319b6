using System.Runtime.CompilerServices;
using Klais.Kafka;

namespace Klais.Testing;

/// <summary>In a test assembly that runs Kafka dev clusters, child processes start under the clusters' gate (<see cref="KafkaDevCluster.ChildProcessGate"/>).</summary>
internal static class ChildProcessGate
{
    [ModuleInitializer]
    internal static void Share() => ChildProcess.Gate = KafkaDevCluster.ChildProcessGate;
}
