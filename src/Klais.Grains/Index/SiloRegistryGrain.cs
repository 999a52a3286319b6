using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>Where each silo's HTTP API is: a silo registers at start; <c>/api/silos</c> joins this with Orleans' membership.</summary>
internal sealed class SiloRegistryGrain(
    [PersistentState("silos", StorageNames.Grains)] IPersistentState<SiloRegistryState> stored,
    GrainServices services) : Grain, ISiloRegistryGrain
{
    private DurableState<SiloRegistryState> Durable => field ??= new(stored, services.Writes, this);

    public async Task Register(SiloRegistration silo)
    {
        var silos = Durable.State.Silos;
        for (int i = silos.Count - 1; i >= 0; i--)
        {
            if (silos[i].SiloId == silo.SiloId)
            {
                silos.RemoveAt(i);
            }
        }

        silos.Add(new SiloRecord { SiloId = silo.SiloId, ApiEndpoint = silo.ApiEndpoint, SiloAddress = silo.SiloAddress, StartedUnixMs = silo.Started.ToUnixTimeMilliseconds() });
        Durable.Changed();
        if (!await Durable.TryWriteAsync())
        {
            throw new InvalidOperationException("The silo registry could not be stored: " + services.Writes.LastError);
        }
    }

    public Task<IReadOnlyList<SiloRegistration>> List()
    {
        IReadOnlyList<SiloRegistration> list = Durable.State.Silos
            .Select(s => new SiloRegistration(s.SiloId, s.ApiEndpoint, s.SiloAddress, DateTimeOffset.FromUnixTimeMilliseconds(s.StartedUnixMs))).ToList();
        return Task.FromResult(list);
    }
}
