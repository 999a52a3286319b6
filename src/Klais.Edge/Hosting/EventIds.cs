namespace Klais.Edge.Hosting;

/// <summary>Log event ids of klais-edge, in one place so they stay unique. Ranges: 1xx hosting, 2xx receive, 3xx Dam, 4xx Kafka, 5xx API.</summary>
internal static class EventIds
{
    public const int EmbeddedCluster = 100;
    public const int Started = 101;
    public const int Stopped = 102;
    public const int ConfigChanged = 500;
    public const int ConfigRejected = 501;
}
