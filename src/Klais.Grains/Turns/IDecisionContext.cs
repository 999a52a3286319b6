using Klais.Contracts.Proto;

namespace Klais.Grains.Turns;

/// <summary>What a grain's decisions may use during one turn: the clock, the options, and the ways out (control updates, events).</summary>
public interface IDecisionContext
{
    DateTimeOffset Now { get; }

    /// <summary>The KLAIS_SILO_ID of the silo running the turn.</summary>
    string SiloId { get; }

    ConsensusOptions Consensus { get; }

    ControllerOptions Controller { get; }

    /// <summary>A control update for klais.control under <paramref name="key"/> (target/item); version and issuer are filled in when it is sent.</summary>
    void EmitControl(string target, string key, ControlUpdate update);

    /// <summary>Something an operator should see in <c>/api/events</c>.</summary>
    void Record(string kind, string grain, string detail);
}
