namespace Klais.DevCluster;

internal static class Program
{
    public static int Main() => 1;
}
