using Klais.Contracts.Proto;
using Klais.Grains.Device;
using Klais.Grains.Node;
using Klais.Grains.Swarm;

namespace Klais.Grains;

/// <summary>A grain activation: handles one record per turn and writes its state into a changelog record.</summary>
internal interface IGrain
{
    /// <summary>Applies one record; true when persisted state changed.</summary>
    bool Handle(ReportEnvelope envelope, IGrainContext context);

    void WriteState(GrainStateRecord record);
}

/// <summary>Creates grains: fresh for a key never seen, or from the body of their last changelog record.</summary>
internal static class Grains
{
    public static IGrain Create(GrainKey key) => key.Type switch
    {
        GrainType.Device => DeviceGrain.Create(key.Id),
        GrainType.Node => NodeGrain.Create(key.Id),
        _ => SwarmGrain.Create(),
    };

    /// <summary>The grain a changelog record holds, or a fresh one when the record's body does not fit the key.</summary>
    public static IGrain Restore(GrainKey key, GrainStateRecord record) => (key.Type, record.BodyCase) switch
    {
        (GrainType.Device, GrainStateRecord.BodyOneofCase.Device) => new DeviceGrain(record.Device),
        (GrainType.Node, GrainStateRecord.BodyOneofCase.Node) => new NodeGrain(record.Node),
        (GrainType.Swarm, GrainStateRecord.BodyOneofCase.Swarm) => new SwarmGrain(record.Swarm),
        _ => Create(key),
    };
}
