using Klais.Learning.Trends;

namespace Klais.Grains.Swarm;

/// <summary>
/// The fleet's and each edge's packet rate, one value a second over the last <see cref="MaxSeconds"/>, for the trends
/// (<see cref="LinearTrend"/>). Transient: a new swarm activation starts empty. Not thread-safe: the swarm grain owns it.
/// </summary>
internal sealed class RateHistory
{
    public const int MaxSeconds = 600;

    private readonly Series _fleet = new();
    private readonly Dictionary<string, Series> _nodes = new(StringComparer.Ordinal);

    /// <summary>
    /// Records second <paramref name="second"/> (Unix seconds): the fleet rate and the received rate of each edge that
    /// reported after <paramref name="freshAfterMs"/>. An edge not heard from for the whole window is forgotten.
    /// </summary>
    public void Add(long second, double fleetRate, IReadOnlyList<NodeSnapshot> nodes, long freshAfterMs)
    {
        _fleet.Add(second, fleetRate);
        foreach (NodeSnapshot node in nodes)
        {
            if (node.LastReport.ToUnixTimeMilliseconds() < freshAfterMs)
            {
                continue;
            }

            if (!_nodes.TryGetValue(node.NodeId, out Series? series))
            {
                _nodes[node.NodeId] = series = new Series();
            }

            series.Add(second, node.ReceivedPerSecond);
        }

        if (second % 60 == 0)
        {
            foreach (string gone in _nodes.Where(n => n.Value.Last <= second - MaxSeconds).Select(n => n.Key).ToList())
            {
                _nodes.Remove(gone);
            }
        }
    }

    /// <summary>The trends over the last <paramref name="windowSeconds"/> before <paramref name="nowSecond"/>, forecast <paramref name="horizonSeconds"/> ahead.</summary>
    public (TrendView? Fleet, List<TrendView> Nodes) Trends(long nowSecond, int windowSeconds, int horizonSeconds)
    {
        TrendView? fleet = _fleet.Fit("fleet", nowSecond, windowSeconds, horizonSeconds);
        var nodes = new List<TrendView>();
        foreach ((string node, Series series) in _nodes.OrderBy(n => n.Key, StringComparer.Ordinal))
        {
            if (series.Fit(node, nowSecond, windowSeconds, horizonSeconds) is { } view)
            {
                nodes.Add(view);
            }
        }

        return (fleet, nodes);
    }

    /// <summary>One series: a ring of (second, value), one entry a second, the latest value winning within a second.</summary>
    private sealed class Series
    {
        private readonly long[] _seconds = new long[MaxSeconds];
        private readonly double[] _values = new double[MaxSeconds];
        private int _start;
        private int _count;

        public long Last => _count == 0 ? long.MinValue : _seconds[(_start + _count - 1) % MaxSeconds];

        public void Add(long second, double value)
        {
            if (_count > 0 && second <= Last)
            {
                if (second == Last)
                {
                    _values[(_start + _count - 1) % MaxSeconds] = value;
                }

                return;
            }

            int at = (_start + _count) % MaxSeconds;
            if (_count == MaxSeconds)
            {
                _start = (_start + 1) % MaxSeconds;
            }
            else
            {
                _count++;
            }

            _seconds[at] = second;
            _values[at] = value;
        }

        public TrendView? Fit(string name, long nowSecond, int windowSeconds, int horizonSeconds)
        {
            var t = new List<double>(_count);
            var v = new List<double>(_count);
            double current = 0;
            for (int i = 0; i < _count; i++)
            {
                int at = (_start + i) % MaxSeconds;
                if (_seconds[at] > nowSecond - windowSeconds && _seconds[at] <= nowSecond)
                {
                    t.Add(_seconds[at] - nowSecond); // seconds relative to now: the line at 0 is "now"
                    v.Add(_values[at]);
                    current = _values[at];
                }
            }

            if (!LinearTrend.TryFit(t.ToArray(), v.ToArray(), out TrendFit fit))
            {
                return null;
            }

            return new TrendView(name, fit.Points, current, fit.Slope, fit.At(0), Math.Max(0, fit.At(horizonSeconds)), fit.RSquared, fit.ResidualStd);
        }
    }
}
