using Klais.Contracts.Security;

namespace Klais.Silo.Api;

/// <summary>
/// Roles on every route of the silo: an endpoint needs <c>read</c> unless it says otherwise (<see cref="RequireRole"/>,
/// or <see cref="Open"/> for <c>/health</c>). Requests matching no endpoint need <c>read</c> as well, so the Orleans
/// dashboard, its assets and unknown paths are closed to callers without a token once tokens are configured.
/// </summary>
internal sealed class ApiRoles(ApiTokens tokens)
{
    /// <summary>Endpoint metadata: no token needed.</summary>
    public static readonly object Open = new OpenAccess();

    private long _unauthorized;
    private long _forbidden;

    public long Unauthorized => Interlocked.Read(ref _unauthorized);

    public long Forbidden => Interlocked.Read(ref _forbidden);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        Endpoint? endpoint = context.GetEndpoint();
        if (tokens.IsOpen || endpoint?.Metadata.GetMetadata<OpenAccess>() is not null)
        {
            await next(context);
            return;
        }

        ApiRole required = endpoint?.Metadata.GetMetadata<RequiredRole>()?.Role ?? ApiRole.Read;
        ApiAccess access = tokens.Check(context.Request.Headers.Authorization.ToString() is { Length: > 0 } header ? header : null, required);
        if (access.IsAllowed)
        {
            await next(context);
            return;
        }

        Interlocked.Increment(ref access.Status == 401 ? ref _unauthorized : ref _forbidden);
        if (access.Status == 401)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await Results.Json(new ErrorView(access.Message!), GrainApi.Json, statusCode: access.Status).ExecuteAsync(context);
    }

    private sealed class OpenAccess;

    /// <summary>Endpoint metadata: the role a route needs.</summary>
    internal sealed record RequiredRole(ApiRole Role);
}

internal static class ApiRoleExtensions
{
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, ApiRole role)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new ApiRoles.RequiredRole(role));

    /// <summary>Checks every request's role once routing has chosen its endpoint.</summary>
    public static WebApplication UseApiRoles(this WebApplication app)
    {
        ApiRoles roles = app.Services.GetRequiredService<ApiRoles>();
        app.Use((context, next) => roles.InvokeAsync(context, next));
        return app;
    }
}
