namespace Klais.Edge;

internal static class Program
{
    public static int Main() => 1;
}
