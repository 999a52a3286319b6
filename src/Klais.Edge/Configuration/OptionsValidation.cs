namespace Klais.Edge.Configuration;

/// <summary>The one way component constructors refuse bad options: every problem in one exception.</summary>
internal static class OptionsValidation
{
    /// <summary>Throws <see cref="ArgumentException"/> listing every problem, one a line; does nothing when there is none.</summary>
    public static void ThrowIfInvalid(IEnumerable<string> problems, string? paramName = null)
    {
        string[] all = problems.ToArray();
        if (all.Length > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, all), paramName);
        }
    }
}
