using Klais.Contracts.Proto;

namespace Klais.Grains;

/// <summary>What a grain may use during its turn: the clock, its options, and the ways out (control updates, events).</summary>
public interface IGrainContext
{
    DateTimeOffset Now { get; }

    string SiloId { get; }

    ConsensusOptions Consensus { get; }

    ControllerOptions Controller { get; }

    /// <summary>Writes a control update to klais.control under <paramref name="key"/> (target/item); version and issuer are filled in.</summary>
    void EmitControl(string target, string key, ControlUpdate update);

    /// <summary>Records something an operator should see in <c>/api/events</c>.</summary>
    void Record(string kind, string grain, string detail);
}
