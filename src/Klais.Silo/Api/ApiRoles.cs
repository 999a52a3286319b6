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

    private ApiTokens Tokens => tokens;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        Endpoint? endpoint = context.GetEndpoint();
        if (tokens.IsOpen || endpoint?.Metadata.GetMetadata<OpenAccess>() is not null)
        {
            await next(context);
            return;
        }

        ApiRole required = endpoint?.Metadata.GetMetadata<RequiredRole>()?.Role ?? ApiRole.Read;
        string? authorization = context.Request.Headers.Authorization.ToString() is { Length: > 0 } header ? header : null;
        if (authorization is null && required == ApiRole.Read && (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
            && context.Request.Cookies.TryGetValue(SessionCookie, out string? session) && session.Length > 0)
        {
            // A browser's links (the Orleans dashboard) carry no header: the session cookie stands in for it, for reads only.
            authorization = "Bearer " + session;
        }

        ApiAccess access = tokens.Check(authorization, required);
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

    /// <summary>The cookie <c>POST /api/session</c> sets: a known token, honoured only for reads (GET, HEAD) without an Authorization header.</summary>
    public const string SessionCookie = "klais_session";

    /// <summary>
    /// <c>POST /api/session</c> with <c>{"token": "..."}</c>: a known token (any role) gets an HttpOnly, SameSite=Strict cookie
    /// that lets the browser follow links to reads such as the Orleans dashboard; changes still need the header, so a
    /// cookie alone never blocks a device. 401 for an unknown token. <c>DELETE /api/session</c> forgets the cookie.
    /// </summary>
    public static void MapSession(WebApplication app)
    {
        app.MapPost("/api/session", async (HttpContext context, ApiRoles roles) =>
        {
            string? token = null;
            try
            {
                using System.Text.Json.JsonDocument doc = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
                token = doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("token", out var t)
                    && t.ValueKind == System.Text.Json.JsonValueKind.String ? t.GetString() : null;
            }
            catch (System.Text.Json.JsonException)
            {
            }

            if (token is null)
            {
                return GrainApi.BadRequest("The body must be {\"token\": \"...\"}.");
            }

            if (!roles.Tokens.IsOpen)
            {
                ApiAccess access = roles.Tokens.Check("Bearer " + token, ApiRole.Read);
                if (!access.IsAllowed)
                {
                    Interlocked.Increment(ref roles._unauthorized);
                    return Results.Json(new ErrorView(access.Message!), GrainApi.Json, statusCode: access.Status);
                }

                context.Response.Cookies.Append(SessionCookie, token, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Secure = context.Request.IsHttps,
                    Path = "/",
                });
            }

            return Results.NoContent();
        }).WithMetadata(Open);
        app.MapDelete("/api/session", (HttpContext context) =>
        {
            context.Response.Cookies.Delete(SessionCookie, new CookieOptions { Path = "/" });
            return Results.NoContent();
        }).WithMetadata(Open);
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
