namespace Klais.Train.Simulation;

/// <summary>
/// How often each kind of event happens in a simulated trace: the mean seconds between two of a kind (a Poisson
/// process; zero turns the kind off). The defaults give a 30-minute trace two or three of each disturbance.
/// </summary>
internal sealed record SimulatorOptions
{
    /// <summary>A share of the devices drops off, then reconnects and (most of them) flushes its buffered history.</summary>
    public double OutageEverySeconds { get; init; } = 720;

    /// <summary>New devices join and existing ones send more, within seconds to a couple of minutes. More in the evening.</summary>
    public double FlashCrowdEverySeconds { get; init; } = 720;

    /// <summary>The load drifts up (or down) by tens of percent over 5 to 20 minutes: not a burst.</summary>
    public double RampEverySeconds { get; init; } = 900;

    /// <summary>A one-to-three-second spike of 10 to 35 %: noise, not a burst.</summary>
    public double BlipEverySeconds { get; init; } = 120;
}
