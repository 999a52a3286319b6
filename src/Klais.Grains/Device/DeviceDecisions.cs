using System.Globalization;
using Klais.Contracts.Proto;
using Klais.Grains.Turns;
using Klais.Learning.Outliers;

namespace Klais.Grains.Device;

/// <summary>
/// What a device grain decides, as a plain class over its stored <see cref="DeviceState"/>: statistics (packets,
/// bytes, duplicates, gaps, an EWMA of the per-report rate and its variance), the edges and source addresses that
/// saw it, an anomaly score (z-score of the newest rate against the EWMA), edges' suspicion votes, and the block
/// decision: a quorum of distinct edges voting within the window, or a conclusive fleet-wide view (one device
/// flooding several edges, or one id from many addresses). <see cref="DeviceGrain"/> owns activation, storage and
/// reminders; this class owns the rules, and its tests need no silo.
/// </summary>
internal sealed class DeviceDecisions
{
    private const int MaxEdges = 16;
    private const int MaxSources = 32;
    private const int MaxVotes = 32;

    public DeviceDecisions(DeviceState state) => State = state;

    public static DeviceDecisions Create(string deviceId) => new(new DeviceState { DeviceId = deviceId });

    public DeviceState State { get; }

    public string Id => State.DeviceId;

    /// <summary>True once any edge reported the device or an operator acted on it.</summary>
    public bool Seen => State.Reports > 0 || State.LastSeenUnixMs > 0 || State.Block is not null || State.BlocksTotal > 0;

    /// <summary>The device as the fleet outlier model sees it, after its last full report; null before one.</summary>
    public DeviceProfile? Profile { get; private set; }

    /// <summary>The voter name of the fleet outlier model in votes and evidence.</summary>
    public const string OutlierVoter = "fleet-model";

    /// <summary>
    /// A vote from a voter other than an edge, counted like an edge's (one per voter in the window); false when it
    /// changes nothing (the device is unknown or blocked).
    /// </summary>
    public bool Vote(string voter, string reason, double score, IDecisionContext context)
    {
        if (!Seen || IsBlocked(context.Now))
        {
            return false;
        }

        AddVote(voter, reason, score, context.Now.ToUnixTimeMilliseconds());
        Decide(context);
        return true;
    }

    public bool IsBlocked(DateTimeOffset now) => State.Block is { } b && b.ExpiresUnixMs > now.ToUnixTimeMilliseconds();

    /// <summary>Applies one edge report; false when it is a replay (its source sent that sequence already).</summary>
    public bool Apply(DeviceObservation report, IDecisionContext context)
    {
        if (!Sequences.Accept(State.Sequences, report.SourceId, report.Sequence))
        {
            return false;
        }

        OnReport(report.SourceId, report, context);
        return true;
    }

    /// <summary>An operator's block for <paramref name="ttl"/>.</summary>
    public void BlockByOperator(string reason, TimeSpan ttl, IDecisionContext context) => Block("operator", reason, ttl, context);

    /// <summary>An operator lifts the block; false when there was none.</summary>
    public bool UnblockByOperator(string reason, IDecisionContext context)
    {
        if (State.Block is null)
        {
            return false;
        }

        Unblock(reason, context);
        return true;
    }

    /// <summary>Withdraws a block whose time is up; true when it did.</summary>
    public bool Expire(IDecisionContext context)
    {
        if (State.Block is null || IsBlocked(context.Now))
        {
            return false;
        }

        Unblock("ttl expired", context);
        return true;
    }

    private void OnReport(string edge, DeviceObservation report, IDecisionContext context)
    {
        ConsensusOptions options = context.Consensus;
        long now = context.Now.ToUnixTimeMilliseconds();
        DeviceState s = State;
        if (s.FirstSeenUnixMs == 0)
        {
            s.FirstSeenUnixMs = now;
        }

        s.LastSeenUnixMs = now;
        double rate = report.WindowMs > 0 ? report.Packets * 1000.0 / report.WindowMs : 0;
        double usual = s.Reports > 0 ? s.RateMean : rate;
        if (!report.Interim)
        {
            // An interim report's window is reported again in full when it ends: its counts would be counted twice.
            s.Packets += report.Packets;
            s.Bytes += report.Bytes;
            s.Duplicates += report.Duplicates;
            s.Gaps += report.Gaps;
            s.Reports++;
            UpdateRate(rate, report.WindowMs, options);
        }

        SeeEdge(edge, now, rate, report.DistinctSources, (long)options.VoteWindow.TotalMilliseconds);
        foreach (string source in report.SourceAddresses)
        {
            if (s.Sources.Contains(source))
            {
                continue;
            }

            if (s.Sources.Count >= MaxSources)
            {
                s.Sources.RemoveAt(0); // examples: the most recent ones are kept
            }

            s.Sources.Add(source);
        }

        if (!report.Interim)
        {
            Profile = OutlierProfile(rate, usual, report, now - (long)options.VoteWindow.TotalMilliseconds);
        }

        if (report.VoteReason is { } vote)
        {
            AddVote(edge, vote, report.VoteScore, now);
        }

        if (!IsBlocked(context.Now))
        {
            Decide(context);
        }
    }

    /// <summary>
    /// EWMA of the rate and its variance (West's incremental form); the score is taken before the update, so a
    /// sudden burst stands out against the history it breaks from.
    /// </summary>
    private void UpdateRate(double rate, int windowMs, ConsensusOptions options)
    {
        DeviceState s = State;
        // Counting noise sets a floor under the deviation: a device sending a steady n datagrams per window still varies
        // by about sqrt(n) datagrams (Poisson), so its rate by sqrt(mean / window). Without the floor a perfectly steady
        // device has a variance near 0 and the smallest change scores in the hundreds.
        double windowSeconds = Math.Max(windowMs, 1) / 1000.0;
        double std = Math.Max(Math.Sqrt(s.RateVariance), Math.Sqrt(Math.Max(s.RateMean, 1) / windowSeconds));
        s.AnomalyScore = s.Reports > (ulong)options.MinReportsForScore ? (rate - s.RateMean) / std : 0;
        if (s.Reports == 1)
        {
            s.RateMean = rate;
            s.RateVariance = 0;
        }
        else
        {
            double diff = rate - s.RateMean;
            double increment = options.EwmaAlpha * diff;
            s.RateMean += increment;
            s.RateVariance = (1 - options.EwmaAlpha) * (s.RateVariance + diff * increment);
        }

        s.LastRate = rate;
    }

    /// <summary>
    /// Notes the edge's latest rate, and the most distinct addresses it reported in one window within the vote window: a
    /// flood split across two windows still counts whole, and an honest device's single address over many windows stays one.
    /// </summary>
    private void SeeEdge(string edge, long now, double rate, uint distinctSources, long voteWindowMs)
    {
        foreach (EdgeSeen seen in State.Edges)
        {
            if (seen.NodeId == edge)
            {
                seen.LastSeenUnixMs = now;
                seen.PacketsPerSecond = rate;
                if (now - seen.SourcesSinceUnixMs > voteWindowMs)
                {
                    seen.DistinctSources = distinctSources;
                    seen.SourcesSinceUnixMs = now;
                }
                else
                {
                    seen.DistinctSources = Math.Max(seen.DistinctSources, distinctSources);
                }

                return;
            }
        }

        if (State.Edges.Count >= MaxEdges)
        {
            State.Edges.Remove(State.Edges.MinBy(e => e.LastSeenUnixMs)!);
        }

        State.Edges.Add(new EdgeSeen { NodeId = edge, LastSeenUnixMs = now, PacketsPerSecond = rate, DistinctSources = distinctSources, SourcesSinceUnixMs = now });
    }

    /// <summary>This report's window (rate, gaps, duplicates) and the device's recent edges and sources.</summary>
    private DeviceProfile OutlierProfile(double rate, double usual, DeviceObservation report, long since)
    {
        int edges = 0;
        uint sources = 0;
        foreach (EdgeSeen e in State.Edges)
        {
            if (e.LastSeenUnixMs >= since)
            {
                edges++;
                sources = Math.Max(sources, e.DistinctSources);
            }
        }

        double packets = report.Packets;
        double spread = State.RateMean > 0 ? Math.Sqrt(State.RateVariance) / State.RateMean : 0;
        return new DeviceProfile(rate, (int)Math.Max(sources, 1), packets + report.Gaps > 0 ? report.Gaps / (packets + report.Gaps) : 0,
            packets > 0 ? report.Duplicates / packets : 0, spread, edges, usual);
    }

    private void AddVote(string edge, string reason, double score, long now)
    {
        Vote? existing = State.Votes.FirstOrDefault(v => v.NodeId == edge);
        if (existing is null)
        {
            if (State.Votes.Count >= MaxVotes)
            {
                State.Votes.Remove(State.Votes.MinBy(v => v.UnixMs)!);
            }

            existing = new Vote { NodeId = edge };
            State.Votes.Add(existing);
        }

        existing.Reason = reason;
        existing.Score = score;
        existing.UnixMs = now;
    }

    private void Decide(IDecisionContext context)
    {
        ConsensusOptions options = context.Consensus;
        long since = context.Now.ToUnixTimeMilliseconds() - (long)options.VoteWindow.TotalMilliseconds;
        for (int i = State.Votes.Count - 1; i >= 0; i--)
        {
            if (State.Votes[i].UnixMs < since)
            {
                State.Votes.RemoveAt(i);
            }
        }

        if (State.Votes.Count >= options.Quorum)
        {
            string reasons = string.Join(", ", State.Votes.Select(v => v.Reason).Distinct().Order(StringComparer.Ordinal));
            Block("consensus", $"{State.Votes.Count} edge{(State.Votes.Count == 1 ? "" : "s")} voted ({reasons}) within {Seconds(options.VoteWindow)}",
                options.BlockTtl, context);
            return;
        }

        // One pass, no allocation: this runs for every report of a device that is not blocked.
        int flooded = 0, recent = 0;
        long sources = 0;
        foreach (EdgeSeen e in State.Edges)
        {
            if (e.LastSeenUnixMs >= since)
            {
                recent++;
                sources += e.DistinctSources;
                flooded += e.PacketsPerSecond >= options.FloodRate ? 1 : 0;
            }
        }

        if (flooded >= options.FloodEdges)
        {
            Block("fleet", $"flooding {flooded} edges at once (each >= {options.FloodRate.ToString(CultureInfo.InvariantCulture)} packets/s)",
                options.BlockTtl, context);
            return;
        }

        // The fleet's view of where the id comes from: each recent edge's distinct addresses in its latest window, summed
        // (an upper bound: two edges may count one address twice; a spoofed id's addresses rarely repeat).
        if (recent >= 2 && sources >= options.SourceThreshold)
        {
            Block("fleet", $"one id from {sources} source addresses over {recent} edges within {Seconds(options.VoteWindow)}",
                options.BlockTtl, context);
        }
    }

    private List<string> Evidence(IDecisionContext context)
    {
        DeviceState s = State;
        var evidence = new List<string>();
        foreach (Vote v in s.Votes)
        {
            evidence.Add(string.Create(CultureInfo.InvariantCulture,
                $"vote {v.NodeId}: {v.Reason} (score {v.Score:0.##}) at {DateTimeOffset.FromUnixTimeMilliseconds(v.UnixMs):O}"));
        }

        evidence.Add(string.Create(CultureInfo.InvariantCulture,
            $"rate {s.LastRate:0.#}/s vs mean {s.RateMean:0.#}/s, z {s.AnomalyScore:0.##}; {s.Packets} packets, {s.Duplicates} duplicates, {s.Gaps} gaps"));
        evidence.Add($"edges: {string.Join(", ", s.Edges.Select(e => $"{e.NodeId} ({e.DistinctSources} sources)"))}; source examples: {string.Join(", ", s.Sources.TakeLast(8))}");
        evidence.Add("decided by silo " + context.SiloId);
        return evidence;
    }

    private void Block(string origin, string reason, TimeSpan ttl, IDecisionContext context)
    {
        long now = context.Now.ToUnixTimeMilliseconds();
        var block = new DeviceState.Types.ActiveBlock
        {
            SinceUnixMs = now,
            ExpiresUnixMs = now + (long)ttl.TotalMilliseconds,
            Reason = reason,
            Origin = origin,
        };
        block.Evidence.AddRange(Evidence(context));
        State.Block = block;
        State.BlocksTotal++;
        var control = new Contracts.Proto.Block
        {
            DeviceId = Id,
            TtlSeconds = (int)ttl.TotalSeconds,
            ExpiresUnixMs = block.ExpiresUnixMs,
            Reason = $"{origin}: {reason}",
        };
        control.Evidence.AddRange(block.Evidence);
        context.EmitControl(ControlPlaneTopics.AllEdges, ControlKey.Block(Id), new ControlUpdate { Block = control });
        context.Record("block", "device/" + Id, $"{origin}: {reason}; ttl {Seconds(ttl)}");
    }

    private void Unblock(string reason, IDecisionContext context)
    {
        State.Block = null;
        State.Votes.Clear(); // the votes that caused the block are spent; a new block needs new votes
        context.EmitControl(ControlPlaneTopics.AllEdges, ControlKey.Block(Id),
            new ControlUpdate { Unblock = new Unblock { DeviceId = Id, Reason = reason } });
        context.Record("unblock", "device/" + Id, reason);
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
