using Klais.Grains.Control;
using Klais.Grains.Policy;
using Klais.Grains.Storage;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Klais.Grains.Turns;

/// <summary>What every KLAIS grain on a silo shares: the clock, the options, the silo's name, the control producer and the state-write health.</summary>
internal sealed class GrainServices(
    TimeProvider time,
    FleetPolicySettings fleet,
    IOptions<ControllerOptions> controller,
    ILocalSiloDetails silo,
    IControlPublisher control,
    StateWriteHealth writes,
    IOptions<ReminderOptions> reminders)
{
    public TimeProvider Time { get; } = time;

    /// <summary>The consensus options in force: configured, or the fleet policy's (read at every decision, so a new policy applies from the next one).</summary>
    public ConsensusOptions Consensus => fleet.Consensus;

    public ControllerOptions Controller { get; } = controller.Value;

    /// <summary>The silo's name, which KLAIS sets to KLAIS_SILO_ID.</summary>
    public string SiloId { get; } = silo.Name;

    public IControlPublisher Control { get; } = control;

    public StateWriteHealth Writes { get; } = writes;

    /// <summary>
    /// Period of the block-expiry reminder: the smallest the reminder service allows. It only matters when the first
    /// tick could not lift the block; the reminder is removed once it has.
    /// </summary>
    public TimeSpan ReminderPeriod { get; } = reminders.Value.MinimumReminderPeriod;

    public GrainTurn NewTurn() => new(this);
}
