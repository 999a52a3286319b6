namespace Klais.Net;

/// <summary>Placeholder until the receive work lands.</summary>
internal static class UdpSocketPlaceholder
{
}
