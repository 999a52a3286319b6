using Klais.Learning.Outliers;

namespace Klais.Learning.Tests.Outliers;

[Trait("Category", "Unit")]
public sealed class IsolationForestTests
{
    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(2, 1.0)]
    [InlineData(3, 1.2074)]       // 2(ln 2 + γ) − 4/3
    [InlineData(256, 10.2448)]    // 2(ln 255 + γ) − 510/256
    public void Average_path_length_is_that_of_an_unsuccessful_search_in_a_binary_search_tree(int n, double expected) =>
        Assert.Equal(expected, IsolationForest.AveragePathLength(n), 4);

    [Fact]
    public void A_point_far_from_the_cloud_scores_near_one_and_the_cloud_centre_below_one_half()
    {
        float[] rows = Cloud(2000, seed: 7);
        IsolationForest forest = IsolationForest.Fit(rows, dimensions: 3, trees: 100, sampleSize: 256, seed: 1);
        Assert.Equal((3, 256, 100), (forest.Dimensions, forest.SampleSize, forest.Trees));

        double centre = forest.Score([0, 0, 0]);
        double far = forest.Score([8, -8, 8]);
        double edge = forest.Score([2.5f, 0, 0]);
        Assert.InRange(centre, 0.3, 0.5);
        Assert.InRange(far, 0.7, 1.0);
        Assert.True(centre < edge && edge < far, $"centre {centre}, edge {edge}, far {far}");
    }

    [Fact]
    public void Injected_outliers_rank_above_the_rows_they_hide_among()
    {
        float[] rows = Cloud(1000, seed: 3);
        for (int i = 0; i < 8; i++)
        {
            // Eight rows at the corners of a cube 5 standard deviations out, one per corner. (A row far out along one
            // feature only is the forest's weak case: with a quarter of the rows per tree, most trees never see it.)
            for (int f = 0; f < 3; f++)
            {
                rows[(i * 3) + f] = ((i >> f) & 1) == 0 ? 5 : -5;
            }
        }

        IsolationForest forest = IsolationForest.Fit(rows, 3, trees: 100, seed: 2);
        double[] scores = Enumerable.Range(0, 1000).Select(i => forest.Score(rows.AsSpan(i * 3, 3))).ToArray();
        int[] top = scores.Select((s, i) => (s, i)).OrderByDescending(p => p.s).Take(8).Select(p => p.i).Order().ToArray();
        Assert.True(Enumerable.Range(0, 8).SequenceEqual(top),
            string.Join(" ", scores.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(10).Select(p => $"{p.i}:{p.v:F3}")));
    }

    [Fact]
    public void The_same_rows_and_seed_give_the_same_forest_and_another_seed_another()
    {
        float[] rows = Cloud(500, seed: 5);
        float[] probe = [1.5f, -0.5f, 2];
        Assert.Equal(IsolationForest.Fit(rows, 3, seed: 9).Score(probe), IsolationForest.Fit(rows, 3, seed: 9).Score(probe));
        Assert.NotEqual(IsolationForest.Fit(rows, 3, seed: 9).Score(probe), IsolationForest.Fit(rows, 3, seed: 10).Score(probe));
    }

    [Fact]
    public void Identical_rows_cannot_be_split_and_score_alike()
    {
        float[] rows = Enumerable.Repeat(1f, 3 * 300).ToArray();
        IsolationForest forest = IsolationForest.Fit(rows, 3, seed: 1);
        // Every tree is one leaf of 256 rows: the path length is c(256), so the score is exactly 2^-1.
        Assert.Equal(0.5, forest.Score([1, 1, 1]), 12);
        Assert.Equal(0.5, forest.Score([9, 9, 9]), 12);
    }

    [Fact]
    public void Bad_input_is_refused_with_a_message_naming_it()
    {
        Assert.Contains("not whole rows of 3", Assert.Throws<ArgumentException>(() => IsolationForest.Fit(new float[7], 3)).Message, StringComparison.Ordinal);
        Assert.Contains("at least 2 rows", Assert.Throws<ArgumentException>(() => IsolationForest.Fit(new float[3], 3)).Message, StringComparison.Ordinal);
        Assert.Contains("Row 1, feature 2 is NaN", Assert.Throws<ArgumentException>(() => IsolationForest.Fit([0, 0, 0, 0, 0, float.NaN], 3)).Message, StringComparison.Ordinal);
        IsolationForest forest = IsolationForest.Fit(Cloud(10, 1), 3);
        Assert.Contains("has 3 floats, got 2", Assert.Throws<ArgumentException>(() => forest.Score([1, 2])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scoring_allocates_nothing()
    {
        IsolationForest forest = IsolationForest.Fit(Cloud(1000, 1), 3);
        float[] row = [0.1f, 0.2f, 0.3f];
        ScoreMany(forest, row);
        long before = GC.GetAllocatedBytesForCurrentThread();
        double sum = ScoreMany(forest, row);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);
    }

    // Fully optimised from the start: a loop in the test method that tiers up mid-run (on-stack replacement)
    // allocates once itself, which is not the code under test's allocation.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static double ScoreMany(IsolationForest forest, float[] row)
    {
        double sum = 0;
        for (int i = 0; i < 1000; i++)
        {
            sum += forest.Score(row);
        }

        return sum;
    }

    /// <summary>Rows of a standard normal cloud in three dimensions.</summary>
    private static float[] Cloud(int count, int seed)
    {
        var random = new Random(seed);
        float[] rows = new float[count * 3];
        for (int i = 0; i < rows.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            rows[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return rows;
    }
}
