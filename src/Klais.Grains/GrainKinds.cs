namespace Klais.Grains;

/// <summary>The grain kinds of the design (section 5); each gets its implementation with the control plane.</summary>
public enum GrainKind
{
    Device,
    Node,
    Swarm,
    Policy,
}
