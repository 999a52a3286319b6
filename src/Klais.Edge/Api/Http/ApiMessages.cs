using System.Text;
using System.Text.Json;

namespace Klais.Edge.Api.Http;

/// <summary>One parsed HTTP request: method, path (without the query), query, the headers the API uses, body.</summary>
internal sealed class ApiRequest
{
    public required string Method { get; init; }

    /// <summary>The path as sent (percent-encoding kept); routes decode the segments they bind.</summary>
    public required string Path { get; init; }

    public string Query { get; init; } = "";

    public string? Authorization { get; init; }

    public ReadOnlyMemory<byte> Body { get; init; }
}

/// <summary>A complete response; bodies are small (health, stats, metrics), so they are built whole.</summary>
internal sealed class ApiResponse
{
    public const string JsonType = "application/json";

    public ApiResponse(int status, string contentType, ReadOnlyMemory<byte> body)
    {
        Status = status;
        ContentType = contentType;
        Body = body;
    }

    public int Status { get; }

    public string ContentType { get; }

    public ReadOnlyMemory<byte> Body { get; }

    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public ApiResponse WithHeader(string name, string value)
    {
        Headers.Add(new(name, value));
        return this;
    }

    public static ApiResponse Json(int status, Action<Utf8JsonWriter> writeProperties)
    {
        var output = new MemoryStream();
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
        }

        return new ApiResponse(status, JsonType, output.ToArray());
    }

    public static ApiResponse Text(int status, string contentType, string text) =>
        new(status, contentType, Encoding.UTF8.GetBytes(text));

    /// <summary>The API's error shape: <c>{"error": "...", "status": 400}</c>.</summary>
    public static ApiResponse Error(int status, string message) => Json(status, w =>
    {
        w.WriteString("error", message);
        w.WriteNumber("status", status);
    });
}
