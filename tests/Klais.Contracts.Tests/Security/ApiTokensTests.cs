using Klais.Contracts.Security;

namespace Klais.Contracts.Tests.Security;

public sealed class ApiTokensTests
{
    private const string Reader = "read-token-0123456789";
    private const string Operator = "operate-token-0123456789";
    private const string Admin = "admin-token-0123456789";

    private static ApiTokens Tokens()
    {
        (ApiTokens tokens, IReadOnlyList<string> problems) = ApiTokens.Parse(
            ["# who may do what", "", $"{Reader} read", $"  {Operator}\toperate  ", $"{Admin} ADMIN"], "tokens");
        Assert.Empty(problems);
        return tokens;
    }

    [Theory]
    [InlineData(Reader, ApiRole.Read, 200)]
    [InlineData(Reader, ApiRole.Operate, 403)]
    [InlineData(Reader, ApiRole.Admin, 403)]
    [InlineData(Operator, ApiRole.Read, 200)]
    [InlineData(Operator, ApiRole.Operate, 200)]
    [InlineData(Operator, ApiRole.Admin, 403)]
    [InlineData(Admin, ApiRole.Admin, 200)]
    [InlineData("unknown-token-0123456789", ApiRole.Read, 401)]
    public void A_role_includes_the_roles_below_it_and_an_unknown_token_is_401(string token, ApiRole required, int status)
    {
        Assert.Equal(status, Tokens().Check("Bearer " + token, required).Status);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer")]
    [InlineData(Reader)]
    public void A_request_without_a_bearer_token_is_401_and_says_what_is_needed(string? header)
    {
        ApiAccess access = Tokens().Check(header, ApiRole.Operate);

        Assert.Equal(401, access.Status);
        Assert.Contains("Authorization: Bearer <token>", access.Message, StringComparison.Ordinal);
        Assert.Contains("operate", access.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_403_names_the_role_needed_and_the_role_held()
    {
        Assert.Equal("This endpoint needs the role admin; the token has read.", Tokens().Check("bearer " + Reader, ApiRole.Admin).Message);
    }

    [Fact]
    public void Without_a_file_everything_is_allowed_and_said_to_be_open()
    {
        Assert.True(ApiTokens.Open.IsOpen);
        Assert.Equal("open", ApiTokens.Open.Mode);
        Assert.True(ApiTokens.Open.Check(null, ApiRole.Admin).IsAllowed);
        Assert.Equal("tokens", Tokens().Mode);
    }

    [Fact]
    public void Every_bad_line_of_a_file_is_a_problem_of_its_own_with_its_number()
    {
        (_, IReadOnlyList<string> problems) = ApiTokens.Parse(
            [$"{Reader} read", "lonely-token-0123456789", $"{Operator} superuser", "short read", $"{Reader} admin", "a b c"], "tokens");

        Assert.Equal(
            [
                "Line 2 has 1 fields; each line is '<token> <role>'.",
                "Line 3: role 'superuser' is none of read, operate, admin.",
                "Line 4: the token has 5 characters; at least 16 are required.",
                "Line 5: the token is already given on an earlier line.",
                "Line 6 has 3 fields; each line is '<token> <role>'.",
            ],
            problems);
    }

    [Fact]
    public void A_file_without_tokens_is_refused_rather_than_taken_as_open()
    {
        (_, IReadOnlyList<string> problems) = ApiTokens.Parse(["# nothing yet"], "tokens");

        Assert.Equal(["It holds no token; leave KLAIS_API_TOKENS_FILE unset for an open API."], problems);
    }
}
