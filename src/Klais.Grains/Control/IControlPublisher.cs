using Klais.Contracts.Proto;

namespace Klais.Grains.Control;

/// <summary>Where grains' control updates go: klais.control, read by every edge.</summary>
public interface IControlPublisher
{
    /// <summary>
    /// Stamps <paramref name="update"/> (schema version, version, target, issuer, time) and writes it under
    /// <paramref name="key"/>; completes when Kafka has acknowledged it, faults when it did not take it.
    /// </summary>
    Task PublishAsync(string target, string key, ControlUpdate update);

    /// <summary>Updates written and acknowledged since start.</summary>
    long Published { get; }
}
