namespace Klais.Learning.Burst;

/// <summary>
/// One second of the whole fleet, as the swarm grain sees it (and as <c>klais-train</c> simulates or records it):
/// the inputs of <see cref="BurstFeatures"/> and <see cref="HoltBurstHeuristic"/>.
/// </summary>
/// <param name="UnixSeconds">The second this row describes (UTC), for the time-of-day features.</param>
/// <param name="PacketsPerSecond">Fleet packet rate.</param>
/// <param name="ReconnectsPerSecond">Devices that (re)connected during the second (the silo's <c>new_devices_per_second</c>).</param>
/// <param name="ActiveDevices">Devices currently reporting.</param>
/// <param name="KafkaLag">Records waiting for Kafka, summed over the edges.</param>
/// <param name="Cpu">Mean CPU share (0..1) of the edges.</param>
public readonly record struct FleetSample(
    long UnixSeconds, double PacketsPerSecond, double ReconnectsPerSecond, double ActiveDevices, double KafkaLag, double Cpu);
