namespace Klais.Testing;

/// <summary>Bounded waiting for what real sockets, processes and Kafka do in their own time (never an unbounded poll).</summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every 10 ms until it holds (true) or <paramref name="limit"/> passes (false).</summary>
    public static async Task<bool> TrueAsync(Func<bool> condition, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    /// <summary>As <see cref="TrueAsync(Func{bool}, TimeSpan)"/> for an asynchronous condition.</summary>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (!await condition())
        {
            if (cts.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
