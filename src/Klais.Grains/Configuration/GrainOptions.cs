namespace Klais.Grains;

/// <summary>How device grains decide: statistics, consensus and blocks.</summary>
public sealed record ConsensusOptions
{
    /// <summary>Distinct edges whose votes, within <see cref="VoteWindow"/>, block a device.</summary>
    public int Quorum { get; init; } = 2;

    public TimeSpan VoteWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a consensus or fleet-view block lasts.</summary>
    public TimeSpan BlockTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Anomaly score (z-score of a report's rate against the device's EWMA) counted as anomalous.</summary>
    public double AnomalyZ { get; init; } = 4;

    /// <summary>Fleet view: a device seen above <see cref="FloodRate"/> packets/s by this many edges within the window is blocked.</summary>
    public int FloodEdges { get; init; } = 3;

    public double FloodRate { get; init; } = 1000;

    /// <summary>Fleet view: one device id from this many source addresses (seen by at least two edges) is blocked.</summary>
    public int SourceThreshold { get; init; } = 16;

    /// <summary>Smoothing of the rate EWMA and its variance (weight of the newest report).</summary>
    public double EwmaAlpha { get; init; } = 0.1;

    /// <summary>Reports needed before the z-score means anything.</summary>
    public int MinReportsForScore { get; init; } = 5;

    /// <summary>
    /// Fleet outlier model: an isolation-forest score from which a device is a conclusive outlier and gets the model's
    /// vote (docs/learning.md); 0 turns the model off.
    /// </summary>
    public double OutlierThreshold { get; init; } = 0.65;

    /// <summary>How often at most a device grain sends its feature vector to its outlier shard.</summary>
    public TimeSpan OutlierInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The swarm grain's controller settings.</summary>
public sealed record ControllerOptions
{
    /// <summary>How often the swarm grain merges partition aggregates and steers (100 ms to 1 s in the design).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Kafka lag (records) an edge should stay at.</summary>
    public double TargetLag { get; init; } = 10_000;

    /// <summary>CPU share (0..1) an edge should stay at.</summary>
    public double TargetCpu { get; init; } = 0.7;

    public double Kp { get; init; } = 0.5;

    public double Ki { get; init; } = 0.1;

    public double Kd { get; init; } = 0.05;

    /// <summary>Holt's smoothing of the fleet rate level and trend.</summary>
    public double HoltAlpha { get; init; } = 0.5;

    public double HoltBeta { get; init; } = 0.3;

    /// <summary>Steps ahead the burst forecast looks.</summary>
    public int ForecastSteps { get; init; } = 5;

    /// <summary>Relative growth over the horizon at which the burst probability is one half.</summary>
    public double BurstGrowthMidpoint { get; init; } = 0.5;

    /// <summary>Spread of the logistic that turns forecast growth into a probability.</summary>
    public double BurstGrowthSpread { get; init; } = 0.15;

    /// <summary>
    /// Whether the fleet acts on the burst probability (the burst table's level, linger advice, rate cut and queue
    /// scale). Off, the probability is computed and shown but the response stays at level 0: prediction off.
    /// </summary>
    public bool BurstAdvice { get; init; } = true;

    /// <summary>A node whose last report is older than this is left alone by the controller.</summary>
    public TimeSpan NodeStaleAfter { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The swarm grain's burst model (docs/learning.md): one ONNX Runtime session per silo.</summary>
public sealed record BurstModelOptions
{
    /// <summary>The model that ships with klais-silo: <c>models/burst.onnx</c> next to the program.</summary>
    public static string ShippedModel => System.IO.Path.Combine(AppContext.BaseDirectory, "models", "burst.onnx");

    /// <summary>The ONNX file; missing, corrupt or failing means the Holt heuristic and DEGRADED_ML.</summary>
    public string Path { get; init; } = ShippedModel;

    /// <summary>
    /// How often the silo looks at the file (size and modification time) and loads it again when it changed: replacing
    /// the file switches the model within this time, without a restart.
    /// </summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromSeconds(5);
}
