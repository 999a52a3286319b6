using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Klais.Contracts.Configuration;

namespace Klais.Contracts.Security;

/// <summary>
/// HTTPS on an edge's or a silo's API: <c>KLAIS_API_TLS_CERT</c> names a PEM file (certificate with its private key, or
/// the key in <c>KLAIS_API_TLS_KEY</c>) or a PFX file (password in <c>KLAIS_API_TLS_PASSWORD</c>). Unset: plain HTTP.
/// Every problem (unreadable file, no private key, expired) is a start-up error.
/// </summary>
public static class ApiTls
{
    public static readonly Setting Cert = new("KLAIS_API_TLS_CERT", "",
        "HTTPS for the API: a PEM file (certificate and private key, or the key in KLAIS_API_TLS_KEY) or a PFX file (password in KLAIS_API_TLS_PASSWORD); unset: plain HTTP.");

    public static readonly Setting Key = new("KLAIS_API_TLS_KEY", "", "PEM private key of KLAIS_API_TLS_CERT when the certificate file does not hold it.");

    public static readonly Setting Password = new("KLAIS_API_TLS_PASSWORD", "", "Password of a PFX KLAIS_API_TLS_CERT.");

    public static IReadOnlyList<Setting> All { get; } = [Cert, Key, Password];

    /// <summary>The API's certificate, or null for plain HTTP; problems go to the reader's errors.</summary>
    public static X509Certificate2? Read(SettingReader reader, TimeProvider? time = null)
    {
        string path = reader.Text(Cert).Trim();
        string key = reader.Text(Key).Trim();
        if (path.Length == 0)
        {
            if (key.Length > 0)
            {
                reader.Fail(Key, key, "It is set but KLAIS_API_TLS_CERT is not; set both, or neither for plain HTTP.");
            }

            return null;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = IsPem(path)
                ? X509Certificate2.CreateFromPemFile(path, key.Length == 0 ? null : key)
                : X509CertificateLoader.LoadPkcs12FromFile(path, reader.Text(Password));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            reader.Fail(Cert, path, $"It cannot be loaded as a PEM certificate with its key or as a PFX file: {ex.Message}");
            return null;
        }

        DateTime now = (time ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        if (!certificate.HasPrivateKey)
        {
            reader.Fail(Cert, path, "The certificate has no private key; give it in the same PEM file or in KLAIS_API_TLS_KEY.");
        }
        else if (certificate.NotAfter.ToUniversalTime() < now)
        {
            reader.Fail(Cert, path, $"The certificate expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC.");
        }
        else
        {
            return certificate;
        }

        certificate.Dispose();
        return null;
    }

    private static bool IsPem(string path)
    {
        using FileStream file = File.OpenRead(path);
        Span<byte> start = stackalloc byte[64];
        int read = file.Read(start);
        return start[..read].IndexOf("-----BEGIN"u8) >= 0;
    }
}
