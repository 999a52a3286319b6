using Klais.Silo.Configuration;

namespace Klais.Silo;

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

        if (result.Config is null)
        {
            await Console.Error.WriteLineAsync($"klais-silo: {result.Errors.Count} configuration problem(s):");
            foreach (string error in result.Errors)
            {
                await Console.Error.WriteLineAsync("  - " + error);
            }

            return 2;
        }

        return await SiloHost.RunAsync(result.Config);
    }
}
