using System.Globalization;
using Klais.Grains.Device;
using Klais.Grains.Turns;

namespace Klais.Grains.Index;

/// <summary>
/// OutlierIndexGrain(<see cref="GrainKeys.OutlierShard"/>) on Orleans around <see cref="FleetOutliers"/>: device grains
/// send their vectors (one-way); a vector scoring at least <see cref="ConsensusOptions.OutlierThreshold"/> gets the
/// model's vote on its device (one-way: a lost vote comes again with the device's next vector). Holds nothing durable:
/// after a failover the shard refits from the next vectors (a minute or so of history).
/// </summary>
internal sealed class OutlierIndexGrain(GrainServices services) : Grain, IOutlierIndexGrain
{
    private readonly FleetOutliers _model = new(TimeSpan.FromMinutes(1));
    private long _scored;
    private long _votes;
    private long _refused;

    public Task Observe(string deviceId, float[] features)
    {
        if (!GrainKeys.IsValidId(deviceId) || !_model.TryObserve(deviceId, features, services.Time.GetUtcNow(), out double? score))
        {
            _refused++;
            return Task.CompletedTask;
        }

        if (score is { } s)
        {
            _scored++;
            double threshold = services.Consensus.OutlierThreshold;
            if (threshold > 0 && s >= threshold)
            {
                _votes++;
                _ = GrainFactory.GetGrain<IDeviceGrain>(deviceId).Vote(DeviceDecisions.OutlierVoter,
                    string.Create(CultureInfo.InvariantCulture, $"fleet outlier {s:0.00}"), s);
            }
        }

        return Task.CompletedTask;
    }

    public Task<OutlierModelSnapshot> Describe() =>
        Task.FromResult(new OutlierModelSnapshot(this.GetPrimaryKeyString(), _model.Rows, _model.Devices, _model.FittedAt, _scored, _votes, _refused));
}
