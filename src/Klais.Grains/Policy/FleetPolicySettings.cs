using System.Globalization;
using Klais.Contracts.Configuration;
using Klais.Grains.Swarm;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Klais.Grains.Policy;

/// <summary>
/// The silo-side settings in force on this silo: the configured <see cref="ConsensusOptions"/> with the quorum, the
/// vote window and the block TTL of the fleet policy the policy grain names, and the burst model it pins. Grains read
/// <see cref="Consensus"/> at every decision (<see cref="Turns.GrainServices"/>); <see cref="FleetPolicyFollower"/>
/// keeps it current. Immutable snapshots swapped whole, so a decision never sees half of one version.
/// </summary>
public sealed partial class FleetPolicySettings(IOptions<ConsensusOptions> configured, BurstModelService models, ILogger<FleetPolicySettings> log)
{
    private Snapshot _current = new(new FleetSettingsView(0, new Dictionary<string, string>()), configured.Value);

    /// <summary>The consensus options in force: the configured ones, with the policy's where it names them.</summary>
    public ConsensusOptions Consensus => Volatile.Read(ref _current).Consensus;

    /// <summary>The policy version whose settings are in force (0: the configuration) and those settings.</summary>
    public FleetSettingsView InForce => Volatile.Read(ref _current).View;

    /// <summary>Takes what the policy grain says is in force; true when it changed anything here.</summary>
    public bool Apply(FleetSettingsView view)
    {
        Snapshot now = Volatile.Read(ref _current);
        if (view.Version == now.View.Version)
        {
            return false; // versions are immutable: the same version holds the same settings
        }

        ConsensusOptions c = configured.Value;
        var consensus = c with
        {
            Quorum = (int)Whole(view, PolicySettings.ConsensusQuorum, c.Quorum),
            VoteWindow = TimeSpan.FromSeconds(Whole(view, PolicySettings.ConsensusWindowSeconds, (long)c.VoteWindow.TotalSeconds)),
            BlockTtl = TimeSpan.FromSeconds(Whole(view, PolicySettings.BlockTtlSeconds, (long)c.BlockTtl.TotalSeconds)),
        };
        Volatile.Write(ref _current, new Snapshot(view, consensus));
        models.Pin(view.Settings.GetValueOrDefault(PolicySettings.BurstModelVersion));
        LogApplied(log, view.Version, consensus.Quorum, consensus.VoteWindow.TotalSeconds, consensus.BlockTtl.TotalSeconds,
            view.Settings.GetValueOrDefault(PolicySettings.BurstModelVersion) ?? "as configured");
        return true;
    }

    /// <summary>The policy's value of <paramref name="setting"/> (validated when the policy was created), or <paramref name="configuredValue"/>.</summary>
    private static long Whole(FleetSettingsView view, PolicySetting setting, long configuredValue) =>
        view.Settings.TryGetValue(setting.Name, out string? text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v : configuredValue;

    private sealed record Snapshot(FleetSettingsView View, ConsensusOptions Consensus);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information,
        Message = "Fleet policy version {Version} in force on this silo: consensus quorum {Quorum}, window {Window} s, block TTL {Ttl} s, burst model {Model}")]
    private static partial void LogApplied(ILogger logger, long version, int quorum, double window, double ttl, string model);
}

/// <summary>
/// Asks the policy grain every <see cref="Period"/> which silo-side settings are in force and hands them to
/// <see cref="FleetPolicySettings"/>. Polling rather than a push: a silo that starts, or misses a change while the
/// grain moves after a failover, is current within one period without anything having to remember it.
/// </summary>
public sealed partial class FleetPolicyFollower(IGrainFactory grains, FleetPolicySettings settings, TimeProvider time, ILogger<FleetPolicyFollower> log)
    : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        string? lastProblem = null;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                settings.Apply(await grains.GetGrain<IPolicyGrain>(GrainKeys.Fleet).FleetSettings().WaitAsync(Period * 5, time, stoppingToken));
                lastProblem = null;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Before the silo is active, or while the store or the grain's silo is away: the settings in force
                // stay, and the next period asks again. Logged once per distinct problem.
                if (e.Message != lastProblem)
                {
                    lastProblem = e.Message;
                    LogPollFailed(log, e.GetType().Name, e.Message);
                }
            }
        }
    }

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Asking the policy grain for the fleet settings failed ({Kind}: {Problem}); the settings in force stay, asked again in 2 s")]
    private static partial void LogPollFailed(ILogger logger, string kind, string problem);
}
