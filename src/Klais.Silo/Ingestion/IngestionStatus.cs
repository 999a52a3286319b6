namespace Klais.Silo.Ingestion;

/// <summary>What the silo's ingestion did, for <c>/health</c>, tests and benchmarks.</summary>
internal sealed class IngestionStatus
{
    internal long Consumed;
    internal long Applied;
    internal long Rejected;
    internal long Batches;
    internal long Commits;
    internal long CommitFailures;
    internal long CallFailures;
    internal int PendingBatches;
    internal int AssignedPartitions;
    private string? _lastProblem;

    public long ConsumedRecords => Interlocked.Read(ref Consumed);

    public long AppliedReports => Interlocked.Read(ref Applied);

    public long RejectedRecords => Interlocked.Read(ref Rejected);

    public long BatchesHandled => Interlocked.Read(ref Batches);

    public long OffsetCommits => Interlocked.Read(ref Commits);

    public long OffsetCommitFailures => Interlocked.Read(ref CommitFailures);

    public long GrainCallFailures => Interlocked.Read(ref CallFailures);

    /// <summary>Batches handled whose state is not all durable yet: their offsets wait.</summary>
    public int UncommittedBatches => Volatile.Read(ref PendingBatches);

    public int Partitions => Volatile.Read(ref AssignedPartitions);

    public string? LastProblem
    {
        get => Volatile.Read(ref _lastProblem);
        set => Volatile.Write(ref _lastProblem, value);
    }
}
