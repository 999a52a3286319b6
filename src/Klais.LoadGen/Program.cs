namespace Klais.LoadGen;

internal static class Program
{
    public static int Main() => 1;
}
