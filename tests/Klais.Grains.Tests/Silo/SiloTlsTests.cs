using System.Net;
using System.Security.Cryptography.X509Certificates;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.Grains.Tests.Silo;

/// <summary>HTTPS on the silo's API (Kestrel) with <c>KLAIS_API_TLS_CERT</c>: a real handshake over loopback.</summary>
public sealed class SiloTlsTests
{
    [Fact]
    public async Task With_a_pem_certificate_the_silo_api_is_https_only()
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("klais-silo-tls-");
        try
        {
            (string pem, X509Certificate2 certificate) = TestCertificates.WritePem(dir.FullName, TimeSpan.FromDays(1));
            using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
            SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
            await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster, ("KLAIS_API_TLS_CERT", pem));

            Assert.StartsWith("https://", silo.ApiUrl, StringComparison.Ordinal);
            using HttpClient https = TestCertificates.TrustingOnly(certificate, new Uri(silo.ApiUrl));
            using HttpResponseMessage health = await https.GetAsync(new Uri("/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);

            using var plain = new HttpClient { BaseAddress = new Uri(silo.ApiUrl.Replace("https://", "http://", StringComparison.Ordinal)), Timeout = TimeSpan.FromSeconds(10) };
            Exception? refused = await Record.ExceptionAsync(async () =>
            {
                using HttpResponseMessage answer = await plain.GetAsync(new Uri("/health", UriKind.Relative));
                Assert.NotEqual(HttpStatusCode.OK, answer.StatusCode);
            });
            Assert.True(refused is null or HttpRequestException, $"plain HTTP: {refused}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
