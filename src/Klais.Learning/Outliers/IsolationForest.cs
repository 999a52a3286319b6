namespace Klais.Learning.Outliers;

/// <summary>
/// An isolation forest (Liu, Ting and Zhou, 2008): each tree splits a random subsample of the rows at random values of
/// random features until each row stands alone or a height limit is reached. Outliers are few and different, so they
/// are isolated in fewer splits: the score <c>s(x) = 2^(-E[h(x)] / c(ψ))</c>, with <c>h</c> the path length (plus
/// <see cref="AveragePathLength"/> of what is left in the leaf) and <c>c(ψ)</c> the mean path length of an unsuccessful
/// search in a binary search tree of ψ rows, is near 1 for an outlier, at most about 0.5 for ordinary rows. Trees are
/// flat arrays; scoring allocates nothing. Deterministic for a seed. Immutable once fitted: scoring is thread-safe.
/// </summary>
public sealed class IsolationForest
{
    private const double EulerGamma = 0.5772156649015329;

    private readonly Node[][] _trees;
    private readonly double _normaliser;

    private IsolationForest(Node[][] trees, int dimensions, int sampleSize)
    {
        _trees = trees;
        Dimensions = dimensions;
        SampleSize = sampleSize;
        _normaliser = AveragePathLength(sampleSize);
    }

    /// <summary>Floats in a row.</summary>
    public int Dimensions { get; }

    /// <summary>Rows each tree was grown on (ψ): the smaller of the requested size and the rows given.</summary>
    public int SampleSize { get; }

    public int Trees => _trees.Length;

    /// <summary>
    /// Grows <paramref name="trees"/> trees over <paramref name="rows"/>, row-major with <paramref name="dimensions"/>
    /// floats a row, each on <paramref name="sampleSize"/> rows drawn without replacement, to a height of
    /// ceil(log2 ψ). Non-finite values are refused.
    /// </summary>
    public static IsolationForest Fit(ReadOnlySpan<float> rows, int dimensions, int trees = 100, int sampleSize = 256, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(trees, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 2);
        if (rows.Length % dimensions != 0)
        {
            throw new ArgumentException($"{rows.Length} floats are not whole rows of {dimensions}.", nameof(rows));
        }

        int count = rows.Length / dimensions;
        if (count < 2)
        {
            throw new ArgumentException($"An isolation forest needs at least 2 rows, got {count}.", nameof(rows));
        }

        for (int i = 0; i < rows.Length; i++)
        {
            if (!float.IsFinite(rows[i]))
            {
                throw new ArgumentException($"Row {i / dimensions}, feature {i % dimensions} is {rows[i]}.", nameof(rows));
            }
        }

        int psi = Math.Min(sampleSize, count);
        int heightLimit = (int)Math.Ceiling(Math.Log2(psi));
        var random = new Random(seed);
        int[] all = new int[count];
        for (int i = 0; i < count; i++)
        {
            all[i] = i;
        }

        var forest = new Node[trees][];
        var nodes = new List<Node>(2 * psi);
        int[] sample = new int[psi];
        for (int t = 0; t < trees; t++)
        {
            // A partial Fisher-Yates shuffle draws psi distinct rows.
            for (int i = 0; i < psi; i++)
            {
                int j = random.Next(i, count);
                (all[i], all[j]) = (all[j], all[i]);
                sample[i] = all[i];
            }

            nodes.Clear();
            Grow(rows, dimensions, sample, 0, psi, 0, heightLimit, random, nodes);
            forest[t] = nodes.ToArray();
        }

        return new IsolationForest(forest, dimensions, psi);
    }

    /// <summary><c>c(n)</c>: the mean path length of an unsuccessful search in a binary search tree of n items.</summary>
    public static double AveragePathLength(int n) => n switch
    {
        <= 1 => 0,
        2 => 1,
        _ => 2 * (Math.Log(n - 1) + EulerGamma) - 2.0 * (n - 1) / n,
    };

    /// <summary>The anomaly score of <paramref name="row"/> in (0, 1]: near 1 an outlier, about 0.5 or less ordinary.</summary>
    public double Score(ReadOnlySpan<float> row)
    {
        if (row.Length != Dimensions)
        {
            throw new ArgumentException($"A row has {Dimensions} floats, got {row.Length}.", nameof(row));
        }

        double total = 0;
        foreach (Node[] tree in _trees)
        {
            total += PathLength(tree, row);
        }

        return Math.Pow(2, -(total / _trees.Length) / _normaliser);
    }

    private static double PathLength(Node[] tree, ReadOnlySpan<float> row)
    {
        int i = 0;
        int depth = 0;
        while (tree[i].Feature >= 0)
        {
            i = row[tree[i].Feature] < tree[i].Threshold ? tree[i].Left : tree[i].Right;
            depth++;
        }

        return depth + AveragePathLength(tree[i].Size);
    }

    /// <summary>Grows the subtree over <paramref name="sample"/>[from, to) and returns its root's index.</summary>
    private static int Grow(ReadOnlySpan<float> rows, int dimensions, int[] sample, int from, int to, int depth, int heightLimit,
        Random random, List<Node> nodes)
    {
        int size = to - from;
        int index = nodes.Count;
        nodes.Add(Node.Leaf(size));
        if (size <= 1 || depth >= heightLimit)
        {
            return index;
        }

        // A random feature among those that still vary here; none varies: the rows are identical, a leaf.
        int start = random.Next(dimensions);
        for (int k = 0; k < dimensions; k++)
        {
            int feature = (start + k) % dimensions;
            float min = float.MaxValue, max = float.MinValue;
            for (int i = from; i < to; i++)
            {
                float v = rows[sample[i] * dimensions + feature];
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }

            if (!(max > min))
            {
                continue;
            }

            float threshold = min + (float)(random.NextDouble() * (max - min));
            if (threshold <= min)
            {
                threshold = max; // float rounding: keep at least one row on each side
            }

            int split = from;
            for (int i = from; i < to; i++)
            {
                if (rows[sample[i] * dimensions + feature] < threshold)
                {
                    (sample[i], sample[split]) = (sample[split], sample[i]);
                    split++;
                }
            }

            int left = Grow(rows, dimensions, sample, from, split, depth + 1, heightLimit, random, nodes);
            int right = Grow(rows, dimensions, sample, split, to, depth + 1, heightLimit, random, nodes);
            nodes[index] = new Node(feature, threshold, left, right, size);
            return index;
        }

        return index;
    }

    /// <summary>A split (<see cref="Feature"/> ≥ 0: rows below <see cref="Threshold"/> go left) or a leaf of <see cref="Size"/> rows.</summary>
    private readonly record struct Node(int Feature, float Threshold, int Left, int Right, int Size)
    {
        public static Node Leaf(int size) => new(-1, 0, -1, -1, size);
    }
}
