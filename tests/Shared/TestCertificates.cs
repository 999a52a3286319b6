using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Klais.Testing;

/// <summary>Self-signed certificates for 127.0.0.1 written as the API's TLS settings take them, and a client that trusts exactly one.</summary>
internal static class TestCertificates
{
    /// <summary>Writes a PEM file holding a fresh certificate (valid for <paramref name="validFor"/>, from an hour ago) and its key.</summary>
    public static (string Path, X509Certificate2 Certificate) WritePem(string directory, TimeSpan validFor)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=klais-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        DateTimeOffset from = DateTimeOffset.UtcNow.AddHours(-1);
        X509Certificate2 certificate = request.CreateSelfSigned(from, from + validFor);
        string path = System.IO.Path.Combine(directory, "api-" + Guid.NewGuid().ToString("N") + ".pem");
        File.WriteAllText(path, certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
        return (path, certificate);
    }

    /// <summary>An HTTP client that accepts the server's certificate only when it is <paramref name="trusted"/>.</summary>
    public static HttpClient TrustingOnly(X509Certificate2 trusted, Uri baseAddress) => new(new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented is not null && presented.Thumbprint == trusted.Thumbprint,
    })
    {
        BaseAddress = baseAddress,
        Timeout = TimeSpan.FromSeconds(10),
    };
}
