using System.Net.Http.Headers;
using System.Text.Json;
using Klais.Contracts.Proto;
using Klais.Grains.Runtime;

namespace Klais.Silo.Api;

/// <summary>Sends a grain call to the silo serving the grain, and gathers listings from every live silo.</summary>
internal sealed class Router(SiloRuntime silo, HttpClient http)
{
    private static readonly TimeSpan ForwardTimeout = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Answers here when this silo serves the grain's partition (<paramref name="local"/> returns null when the
    /// partition moved away in the meantime), else forwards to the owner, else 503 with Retry-After.
    /// </summary>
    public async Task<IResult> Route(HttpContext context, GrainKey key, Func<Task<IResult?>> local, byte[]? body = null)
    {
        int partition = GrainPartitioner.Partition(key, silo.Partitions);
        context.Response.Headers["Retry-After"] = "1"; // removed below for every answer but 503
        IResult result = await RouteCore(context, partition, local, body);
        if (result is not IStatusCodeHttpResult { StatusCode: StatusCodes.Status503ServiceUnavailable })
        {
            context.Response.Headers.Remove("Retry-After");
        }

        return result;
    }

    private async Task<IResult> RouteCore(HttpContext context, int partition, Func<Task<IResult?>> local, byte[]? body)
    {
        if (silo.Serves(partition))
        {
            try
            {
                if (await local() is { } answer)
                {
                    context.Response.Headers[GrainApi.OwnerHeader] = silo.SiloId;
                    return answer;
                }
            }
            catch (TimeoutException)
            {
                return GrainApi.Moving(partition); // the grain thread is busy restoring partitions
            }
        }

        SiloAnnouncement? owner = silo.Directory.OwnerOf(partition);
        if (context.Request.Headers.ContainsKey(GrainApi.ForwardedHeader) || owner is null || owner.SiloId == silo.SiloId)
        {
            return GrainApi.Moving(partition);
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), owner.ApiEndpoint + context.Request.Path + context.Request.QueryString);
        request.Headers.Add(GrainApi.ForwardedHeader, silo.SiloId);
        if (body is { Length: > 0 })
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(ForwardTimeout);
            using HttpResponseMessage response = await http.SendAsync(request, timeout.Token);
            byte[] content = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            context.Response.Headers[GrainApi.OwnerHeader] = owner.SiloId;
            return new ForwardedResult((int)response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "application/json", content);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return GrainApi.Moving(partition); // the owner is gone or going: its partitions are about to move
        }
    }

    /// <summary>Local items plus every other live silo's (asked with <c>?scope=local</c>), merged and sorted by <paramref name="sortKey"/>.</summary>
    public async Task<IResult> Gather(HttpContext context, Func<Task<List<object>>> local, string sortKey, bool descending = false, int limit = int.MaxValue)
    {
        var items = new List<JsonElement>();
        var answered = new List<string> { silo.SiloId };
        var missing = new List<string>();
        items.AddRange((await local()).Select(i => JsonSerializer.SerializeToElement(i, i.GetType(), GrainApi.Json)));
        if (context.Request.Query["scope"] != "local")
        {
            var others = silo.Directory.Silos().Where(s => s.Alive && s.Announcement.SiloId != silo.SiloId).Select(s => s.Announcement).ToList();
            var answers = await Task.WhenAll(others.Select(async s =>
            {
                try
                {
                    using var timeout = new CancellationTokenSource(ForwardTimeout);
                    string json = await http.GetStringAsync($"{s.ApiEndpoint}{context.Request.Path}?scope=local", timeout.Token);
                    using JsonDocument doc = JsonDocument.Parse(json);
                    return (s.SiloId, Items: doc.RootElement.GetProperty("items").EnumerateArray().Select(e => e.Clone()).ToList());
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or KeyNotFoundException)
                {
                    return (s.SiloId, Items: (List<JsonElement>?)null);
                }
            }));
            foreach ((string id, List<JsonElement>? list) in answers)
            {
                (list is null ? missing : answered).Add(id);
                items.AddRange(list ?? []);
            }
        }

        Func<JsonElement, string> by = e => e.TryGetProperty(sortKey, out JsonElement v) ? v.ToString() : "";
        IEnumerable<JsonElement> sorted = descending ? items.OrderByDescending(by, StringComparer.Ordinal) : items.OrderBy(by, StringComparer.Ordinal);
        return Results.Json(new FanOut<JsonElement>(sorted.Take(limit).ToList(), answered, missing), GrainApi.Json);
    }
}

/// <summary>The owner's answer, relayed as it came (status, content type, body).</summary>
internal sealed class ForwardedResult(int statusCode, string contentType, byte[] body) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => statusCode;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = statusCode;
        httpContext.Response.ContentType = contentType;
        return httpContext.Response.Body.WriteAsync(body).AsTask();
    }
}
