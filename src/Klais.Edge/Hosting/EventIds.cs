namespace Klais.Edge.Hosting;

/// <summary>Log event ids of klais-edge, in one place so they stay unique. Ranges: 1xx hosting, 2xx receive, 3xx Kafka producer, 4xx Dam, 2xx also XDP, 5xx API, 6xx spill, 7xx delivery and circuit, 8xx dedupe, 9xx control plane (reports, klais.control).</summary>
internal static class EventIds
{
    public const int EmbeddedCluster = 100;
    public const int Started = 101;
    public const int Stopped = 102;
    public const int XdpAttached = 200;
    public const int XdpNotAttached = 201;
    public const int XdpDetached = 202;
    public const int XdpFirstSeen = 203;
    public const int XdpPurgeFailed = 204;
    public const int KafkaStarted = 300;
    public const int Librdkafka = 301;
    public const int KafkaClientError = 302;
    public const int KafkaFatalError = 303;
    public const int KafkaDeliveryFailing = 304;
    public const int KafkaStatistics = 305;
    public const int KafkaFlushIncomplete = 306;
    public const int KafkaPurgeFailed = 307;
    public const int ConfigChanged = 500;
    public const int ConfigRejected = 501;
    public const int ApiListening = 502;
    public const int ApiHandlerFailed = 503;
    public const int ApiOpen = 509;
    public const int DeviceBlocked = 504;
    public const int DeviceUnblocked = 505;
    public const int DeviceLimitSet = 506;
    public const int DeviceLimitRemoved = 507;
    public const int SpillRecovered = 600;
    public const int SpillDamaged = 601;
    public const int SpillCheckpointDamaged = 602;
    public const int SpillWriteFailed = 603;
    public const int SpillFull = 604;
    public const int SpillTemporary = 605;
    public const int CircuitOpened = 700;
    public const int CircuitHalfOpened = 701;
    public const int CircuitClosed = 702;
    public const int SpillingStarted = 703;
    public const int ReplayFinished = 704;
    public const int ReplayRewound = 705;
    public const int ShutdownSpilled = 706;
    public const int CircuitProbe = 707;
    public const int ReplayReadFailed = 708;
    public const int ShutdownFlushGaveUp = 709;
    public const int DeliveryAfterStop = 710;
    public const int DedupeState = 800;
    public const int DedupeSaved = 801;
    public const int DedupeSaveFailed = 802;
    public const int ControlCaughtUp = 900;
    public const int ControlFollowerProblem = 901;
    public const int ReporterFailed = 902;
    public const int ControlIgnored = 903;
    public const int ControlStartedWithoutReplay = 904;
    public const int PolicyApplied = 905;
    public const int PolicyRejected = 906;
    public const int ControlStopIncomplete = 907;
}
