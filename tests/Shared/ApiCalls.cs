using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Klais.Testing;

/// <summary>Requests to the edge's and the silo's APIs as their role and hostile-HTTP tests make them.</summary>
internal static class ApiCalls
{
    /// <summary>A request with an optional JSON body and an optional bearer token.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path, string? body, string? token)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await http.SendAsync(request);
    }

    /// <summary>The message of an error answer: <c>{"error": "..."}</c>.</summary>
    public static async Task<string> ErrorAsync(HttpResponseMessage response)
    {
        using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("error").GetString()!;
    }

    /// <summary>How often <paramref name="part"/> occurs in <paramref name="text"/> (responses in a raw reply).</summary>
    public static int CountOf(string text, string part)
    {
        int count = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
