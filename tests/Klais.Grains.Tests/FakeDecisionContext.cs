using Klais.Contracts.Proto;
using Klais.Grains.Turns;
using Klais.Testing;

namespace Klais.Grains.Tests;

/// <summary>A decision context on a manual clock that keeps what the decisions emit.</summary>
internal sealed class FakeDecisionContext(ManualTimeProvider clock) : IDecisionContext
{
    public DateTimeOffset Now => clock.GetUtcNow();

    public string SiloId => "test-silo";

    public ConsensusOptions Consensus { get; set; } = new();

    public ControllerOptions Controller { get; set; } = new();

    public List<(string Target, string Key, ControlUpdate Update)> Control { get; } = [];

    public List<(string Kind, string Grain, string Detail)> Events { get; } = [];

    public void EmitControl(string target, string key, ControlUpdate update) => Control.Add((target, key, update));

    public void Record(string kind, string grain, string detail) => Events.Add((kind, grain, detail));
}
