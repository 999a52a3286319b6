using System.Net;
using System.Security.Cryptography.X509Certificates;
using Klais.Edge.Configuration;
using Klais.Edge.Tests.EndToEnd;
using Klais.Kafka;
using Klais.Testing;

namespace Klais.Edge.Tests.Api;

/// <summary>HTTPS on the edge API with <c>KLAIS_API_TLS_CERT</c>: a real TLS handshake over loopback, and bad certificates refused at start.</summary>
public sealed class ApiTlsTests : IDisposable
{
    private readonly KafkaDevCluster _cluster;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("klais-tls-");

    public ApiTlsTests()
    {
        Librdkafka.EnsureLoaded();
        _cluster = KafkaDevCluster.Start(brokers: 1);
    }

    public void Dispose()
    {
        _cluster.Dispose();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task With_a_pem_certificate_the_api_speaks_https_and_plain_http_gets_no_answer()
    {
        (string pem, X509Certificate2 certificate) = TestCertificates.WritePem(_dir.FullName, TimeSpan.FromDays(1));
        await using EdgeHarness edge = await EdgeHarness.StartAsync(EdgeHarness.Config(_cluster.BootstrapServers, "tls", ("KLAIS_API_TLS_CERT", pem)));
        int port = edge.Http.BaseAddress!.Port;

        using HttpClient https = TestCertificates.TrustingOnly(certificate, new Uri($"https://127.0.0.1:{port}/"));
        using HttpResponseMessage health = await https.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("\"node_id\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => edge.Http.GetAsync(new Uri("/health", UriKind.Relative)));
        using HttpClient otherTrust = TestCertificates.TrustingOnly(TestCertificates.WritePem(_dir.FullName, TimeSpan.FromDays(1)).Certificate, new Uri($"https://127.0.0.1:{port}/"));
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => otherTrust.GetAsync(new Uri("/health", UriKind.Relative)));
    }

    [Fact]
    public void An_expired_certificate_a_missing_file_or_a_key_without_certificate_fail_at_start_with_every_problem()
    {
        (string expired, _) = TestCertificates.WritePem(_dir.FullName, TimeSpan.FromMinutes(30)); // valid from an hour ago: expired
        EdgeConfigResult result = EdgeConfigLoader.Load([], name => name == "KLAIS_API_TLS_CERT" ? expired : null);
        Assert.Null(result.Config);
        Assert.Single(result.Errors, e => e.StartsWith($"KLAIS_API_TLS_CERT is \"{expired}\"", StringComparison.Ordinal) && e.Contains("expired on", StringComparison.Ordinal));

        result = EdgeConfigLoader.Load([], name => name switch
        {
            "KLAIS_API_TLS_CERT" => "/nonexistent/api.pem",
            _ => null,
        });
        Assert.Single(result.Errors, e => e.StartsWith("KLAIS_API_TLS_CERT is \"/nonexistent/api.pem\"", StringComparison.Ordinal) && e.Contains("cannot be loaded", StringComparison.Ordinal));

        result = EdgeConfigLoader.Load([], name => name == "KLAIS_API_TLS_KEY" ? "/some/key.pem" : null);
        Assert.Equal(["KLAIS_API_TLS_KEY is \"/some/key.pem\" (from the environment). It is set but KLAIS_API_TLS_CERT is not; set both, or neither for plain HTTP."], result.Errors);
    }
}
