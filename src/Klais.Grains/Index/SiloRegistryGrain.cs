using Klais.Contracts.Proto;
using Klais.Grains.Storage;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>Where each silo's HTTP API is: a silo registers at start; <c>/api/silos</c> joins this with Orleans' membership.</summary>
internal sealed class SiloRegistryGrain(
    [PersistentState("silos", StorageNames.Grains)] IPersistentState<SiloRegistryState> stored,
    GrainServices services) : Grain, ISiloRegistryGrain
{
    private readonly DurableState<SiloRegistryState> _state = new(stored, services.Writes);

    public async Task Register(SiloRegistration silo)
    {
        var silos = _state.State.Silos;
        for (int i = silos.Count - 1; i >= 0; i--)
        {
            if (silos[i].SiloId == silo.SiloId)
            {
                silos.RemoveAt(i);
            }
        }

        silos.Add(new SiloRecord { SiloId = silo.SiloId, ApiEndpoint = silo.ApiEndpoint, SiloAddress = silo.SiloAddress, StartedUnixMs = silo.Started.ToUnixTimeMilliseconds() });
        _state.Changed();
        if (!await _state.TryWriteAsync())
        {
            throw new InvalidOperationException("The silo registry could not be stored: " + services.Writes.LastError);
        }
    }

    public Task<IReadOnlyList<SiloRegistration>> List()
    {
        IReadOnlyList<SiloRegistration> list = _state.State.Silos
            .Select(s => new SiloRegistration(s.SiloId, s.ApiEndpoint, s.SiloAddress, DateTimeOffset.FromUnixTimeMilliseconds(s.StartedUnixMs))).ToList();
        return Task.FromResult(list);
    }
}
