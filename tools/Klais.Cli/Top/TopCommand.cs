using Klais.Client;
using Spectre.Console;

namespace Klais.Cli.Top;

/// <summary>
/// <c>klais top --silo URL</c>: the fleet view, read again every <c>--interval</c> seconds and on a key that needs it;
/// keys are read between refreshes. The token (role <c>read</c>) comes from <c>--token</c> or <c>KLAIS_TOKEN</c>.
/// </summary>
internal static class TopCommand
{
    public static async Task<int> RunAsync(Uri silo, string? token, TimeSpan interval, CancellationToken cancel)
    {
        using var api = new KlaisApiClient(silo, token);
        var state = new TopState(silo.ToString());
        TimeProvider time = TimeProvider.System;
        await state.RefreshAsync(api, time, cancel);
        await AnsiConsole.Live(TopView.Render(state, time.GetUtcNow())).AutoClear(false).StartAsync(async live =>
        {
            DateTimeOffset next = time.GetUtcNow() + interval;
            while (!state.Quit && !cancel.IsCancellationRequested)
            {
                bool refresh = time.GetUtcNow() >= next;
                while (!Console.IsInputRedirected && Console.KeyAvailable)
                {
                    refresh |= state.Press(Console.ReadKey(intercept: true));
                }

                if (refresh)
                {
                    await state.RefreshAsync(api, time, cancel);
                    next = time.GetUtcNow() + interval;
                }

                live.UpdateTarget(TopView.Render(state, time.GetUtcNow()));
                await Task.Delay(50, cancel).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        return state.Problem is null ? 0 : 1;
    }
}
