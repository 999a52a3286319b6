using Klais.Contracts.Security;
using Klais.Silo.Configuration;
using Klais.Silo.Hosting;

namespace Klais.Silo;

/// <summary>
/// klais-silo. Prints <c>listening=&lt;url&gt;</c>, <c>silo=&lt;id&gt;</c>, <c>mode=…</c> (and <c>bootstrap=…</c> with the
/// embedded dev cluster) on stdout once it serves; SIGTERM stops it cleanly. Exit codes: 0 stopped, 1 failed,
/// 2 bad configuration.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        SiloConfigResult result = SiloConfigLoader.Load(args, Environment.GetEnvironmentVariable);
        if (result.HelpRequested)
        {
            Console.WriteLine(SiloConfigLoader.HelpText());
            return 0;
        }

        if (result.Config is not { } config)
        {
            await Console.Error.WriteLineAsync($"klais-silo: {result.Errors.Count} configuration problem(s):");
            foreach (string error in result.Errors)
            {
                await Console.Error.WriteLineAsync("  - " + error);
            }

            return 2;
        }

        if (config.DevelopmentMode)
        {
            await Console.Error.WriteLineAsync("klais-silo: development mode (KLAIS_REDIS is not set): one silo, localhost clustering, "
                + "grain state and reminders in memory; nothing survives a restart.");
        }

        if (config.ApiTokens.IsOpen)
        {
            await Console.Error.WriteLineAsync("klais-silo: warning: " + ApiTokens.OpenWarning);
        }

        KlaisSilo silo;
        try
        {
            silo = await KlaisSilo.StartAsync(config);
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync("klais-silo: could not start: " + ex.Message);
            return 1;
        }

        await using (silo)
        {
            if (config.KafkaBootstrap is null)
            {
                Console.WriteLine("bootstrap=" + silo.Bootstrap);
            }

            Console.WriteLine("listening=" + silo.ApiUrl);
            Console.WriteLine("silo=" + config.SiloId);
            Console.WriteLine("mode=" + (config.DevelopmentMode ? "development" : "redis"));
            await silo.WaitForShutdownAsync();
        }

        return 0;
    }
}
