using Klais.Grains.Hosting;
using Klais.Grains.Storage;
using Klais.Silo.Configuration;
using Klais.Silo.Ingestion;
using Orleans.Configuration;
using Orleans.Storage;
using StackExchange.Redis;

namespace Klais.Silo.Hosting;

/// <summary>How klais-silo configures its Orleans silo, one concern per method.</summary>
internal static class SiloBuilderExtensions
{
    /// <summary>
    /// Membership, grain storage and reminders: on Redis (<c>KLAIS_REDIS</c>), or in development mode on localhost
    /// clustering with state and reminders in memory (one silo; nothing survives a restart).
    /// </summary>
    public static ISiloBuilder UseKlaisCluster(this ISiloBuilder silo, SiloConfig config, int siloPort, int gatewayPort)
    {
        silo.Configure<SiloOptions>(o => o.SiloName = config.SiloId);
        if (config.Redis is null)
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: config.ServiceId, clusterId: config.ClusterId);
            silo.AddMemoryGrainStorage(StorageNames.Grains);
            silo.UseInMemoryReminderService();
        }
        else
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = config.ClusterId;
                o.ServiceId = config.ServiceId;
            });
            silo.ConfigureEndpoints(config.AdvertisedAddress, siloPort, gatewayPort);
            silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(config.Redis));
            silo.AddRedisGrainStorage(StorageNames.Grains, o => o.ConfigurationOptions = RedisOptions(config.Redis));
            silo.UseRedisReminderService(o => o.ConfigurationOptions = RedisOptions(config.Redis));
        }

        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = config.Membership.ProbeTimeout;
            o.MinProbeTimeout = config.Membership.ProbeTimeout / 2;
            o.MaxProbeTimeout = config.Membership.ProbeTimeout * 2;
            o.NumMissedProbesLimit = config.Membership.MissedProbes;
            o.NumVotesForDeathDeclaration = config.Membership.DeathVotes;
            // A hung silo (SIGSTOP, a long GC pause) keeps its TCP connections open; with this check on, a vote against
            // it is suppressed while its connection received anything within MaxProbeTimeout x missed probes (a minute
            // with the defaults). Probes alone decide here: a silo that answers no probe for seconds is dead to us.
            o.EnableConnectionLivenessCheck = false;
            // On a busy machine a silo that suspects itself of being slow would stretch every probe timeout, which is
            // what makes failover take tens of seconds under load; the probe timeout above is already generous.
            o.ExtendProbeTimeoutDuringDegradation = false;
        });
        // Reminders bring a grain back on a survivor after its silo died (a block's expiry, a policy rollout): how soon
        // depends on the period, and Orleans' default minimum (a minute) would leave a rollout standing that long.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = ReminderPeriod);
        silo.Configure<GrainCollectionOptions>(o =>
        {
            o.CollectionAge = config.IdleEviction;
            o.CollectionQuantum = TimeSpan.FromSeconds(Math.Min(60, config.IdleEviction.TotalSeconds / 2));
        });
        return silo;
    }

    /// <summary>Smallest reminder period: a reminder costs one Redis read per period, and a failover waits at most one.</summary>
    public static readonly TimeSpan ReminderPeriod = TimeSpan.FromSeconds(5);

    /// <summary>The hosted consumer of klais.reports (group klais-silos).</summary>
    public static ISiloBuilder AddKlaisIngestion(this ISiloBuilder silo, SiloConfig config, string bootstrapServers)
    {
        silo.Services.AddSingleton<IngestionStatus>();
        silo.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<ReportIngestor>(sp, config, bootstrapServers));
        return silo;
    }

    /// <summary>
    /// One Redis configuration per provider: Orleans' clustering, storage and reminders each open their own
    /// connection. A silo keeps trying while Redis is away instead of failing its start or its calls for good.
    /// </summary>
    public static ConfigurationOptions RedisOptions(string configuration)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        return options;
    }
}
