using System.CommandLine;

namespace Klais.Silo;

internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand(
            "klais-silo: hosts KLAIS grains (device, node, swarm, policy) on a Kafka-backed cluster. " +
            "The grain runtime arrives with the control-plane work; this build only describes itself.");
        root.SetAction(_ =>
        {
            Console.Error.WriteLine("klais-silo: the control plane is not built yet; nothing to run.");
            return 1;
        });
        return root.Parse(args).Invoke();
    }
}
