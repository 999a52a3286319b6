using System.Text;
using Klais.Edge.Api;

namespace Klais.Edge.Tests.Api;

public sealed class ConfigChangeTests
{
    private static (ConfigChange Change, string? Error) Parse(string body)
    {
        ConfigChange change = ConfigChange.Parse(Encoding.UTF8.GetBytes(body), out string? error);
        return (change, error);
    }

    [Fact]
    public void Accepts_rate_and_burst()
    {
        (ConfigChange change, string? error) = Parse("""{"new_rate":20000,"burst_size":40000}""");

        Assert.Null(error);
        Assert.Equal(20000, change.NewRate);
        Assert.Equal(40000, change.BurstSize);
    }

    [Fact]
    public void Accepts_rate_alone()
    {
        (ConfigChange change, string? error) = Parse("""{"new_rate":1.5}""");

        Assert.Null(error);
        Assert.Equal(1.5, change.NewRate);
        Assert.Null(change.BurstSize);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{", "not valid JSON")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("{}", "changes nothing")]
    [InlineData("""{"new_rate":0}""", "new_rate is 0. It must be a number greater than 0")]
    [InlineData("""{"new_rate":-5}""", "new_rate is -5.")]
    [InlineData("""{"new_rate":"fast"}""", "new_rate is \"fast\".")]
    [InlineData("""{"new_rate":1e12}""", "at most 100000000")]
    [InlineData("""{"burst_size":1.5}""", "burst_size is 1.5. It must be a whole number")]
    [InlineData("""{"burst_size":0}""", "burst_size is 0.")]
    [InlineData("""{"rate":100}""", "\"rate\" is not a setting that can be changed here")]
    public void Rejects_bad_bodies_with_a_specific_message(string body, string expected)
    {
        (ConfigChange change, string? error) = Parse(body);

        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Equal(default, change);
    }

    [Fact]
    public void Reports_every_problem_of_one_body()
    {
        (_, string? error) = Parse("""{"new_rate":-1,"burst_size":"x","extra":true}""");

        Assert.Contains("new_rate is -1.", error, StringComparison.Ordinal);
        Assert.Contains("burst_size is \"x\".", error, StringComparison.Ordinal);
        Assert.Contains("\"extra\" is not a setting", error, StringComparison.Ordinal);
    }
}
