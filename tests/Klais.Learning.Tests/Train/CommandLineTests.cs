using Klais.Train;

namespace Klais.Learning.Tests.Train;

[Trait("Category", "Unit")]
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("simulate", "--minutes", "10", "--out", "x")]                  // --seed missing
    [InlineData("simulate", "--seed", "one", "--out", "x")]
    [InlineData("simulate", "--seed", "1", "--minutes", "0", "--out", "x")]
    [InlineData("record", "--silo", "not a url", "--out", "x")]
    [InlineData("fit", "--traces", "x")]                                       // --out missing
    [InlineData("evaluate", "--model", "m.onnx", "--traces", "x", "--bogus")]
    [InlineData("train")]
    public void Bad_arguments_exit_2(params string[] args) => Assert.Equal(2, Program.Main(args));

    [Fact]
    public void A_missing_trace_directory_fails_with_1() =>
        Assert.Equal(1, Program.Main(["fit", "--traces", Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N")), "--out", "m.onnx"]));
}
