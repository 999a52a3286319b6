using Klais.Grains.Control;
using Klais.Grains.Policy;
using Klais.Grains.Storage;
using Klais.Grains.Swarm;
using Klais.Grains.Turns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Klais.Grains.Hosting;

/// <summary>Registers KLAIS grains and what they share on a silo.</summary>
public static class GrainsSiloBuilderExtensions
{
    /// <summary>
    /// The grains' services: options, clock (<see cref="TimeProvider.System"/> unless one is registered), state-write
    /// health, the burst model (<paramref name="burstModel"/>, by default the shipped one). The grains' storage is named <see cref="StorageNames.Grains"/>; a control publisher must be added
    /// (<see cref="AddKlaisControl"/>, or any <see cref="IControlPublisher"/>).
    /// </summary>
    public static ISiloBuilder AddKlaisGrains(this ISiloBuilder silo, ConsensusOptions consensus, ControllerOptions controller,
        BurstModelOptions? burstModel = null)
    {
        silo.Services.TryAddSingleton(TimeProvider.System);
        silo.Services.AddSingleton(Options.Create(consensus));
        silo.Services.AddSingleton(Options.Create(controller));
        silo.Services.TryAddSingleton<StateWriteHealth>();
        silo.Services.AddSingleton(burstModel ?? new BurstModelOptions());
        silo.Services.TryAddSingleton<BurstModelService>();
        silo.Services.TryAddSingleton<FleetPolicySettings>();
        silo.Services.AddHostedService<FleetPolicyFollower>();
        silo.Services.AddSingleton<GrainServices>();
        silo.Services.AddKeyedSingleton(StorageNames.Grains, (sp, _) => ProtobufSerializer(sp));
        return silo;
    }

    /// <summary>klais.control through this silo's own idempotent producer.</summary>
    public static ISiloBuilder AddKlaisControl(this ISiloBuilder silo, string bootstrapServers)
    {
        silo.Services.TryAddSingleton<IControlPublisher>(sp => new KafkaControlPublisher(bootstrapServers,
            sp.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().Name, sp.GetRequiredService<TimeProvider>()));
        return silo;
    }

    /// <summary>Grain state as protobuf; registered for the storage named <see cref="StorageNames.Grains"/>, whichever provider it is.</summary>
    internal static IGrainStorageSerializer ProtobufSerializer(IServiceProvider services) =>
        new ProtobufGrainStorageSerializer(services.GetRequiredService<IGrainStorageSerializer>());
}
