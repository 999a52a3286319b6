namespace Klais.Contracts.Wire;

/// <summary>Why a datagram was not admitted. Every rejected datagram is counted under exactly one reason.</summary>
public enum Rejection : byte
{
    None = 0,
    TooShort,
    BadMagic,
    BadDeviceId,
    PayloadTooLarge,
    InvalidJson,
    Duplicate,
    Blocked,
    RateLimited,
    DeviceRateLimited,
}

public static class RejectionNames
{
    /// <summary>Names as they appear in <c>/stats</c> (<c>rejected.&lt;name&gt;</c>) and <c>/metrics</c> (<c>reason</c> label).</summary>
    public static string ToWireName(this Rejection rejection) => rejection switch
    {
        Rejection.None => "none",
        Rejection.TooShort => "too_short",
        Rejection.BadMagic => "bad_magic",
        Rejection.BadDeviceId => "bad_device_id",
        Rejection.PayloadTooLarge => "payload_too_large",
        Rejection.InvalidJson => "invalid_json",
        Rejection.Duplicate => "duplicate",
        Rejection.Blocked => "blocked",
        Rejection.RateLimited => "rate_limited",
        Rejection.DeviceRateLimited => "device_rate_limited",
        _ => throw new ArgumentOutOfRangeException(nameof(rejection), rejection, "Unknown rejection."),
    };

    /// <summary>All reasons except <see cref="Rejection.None"/>, in enum order.</summary>
    public static ReadOnlySpan<Rejection> All =>
    [
        Rejection.TooShort, Rejection.BadMagic, Rejection.BadDeviceId, Rejection.PayloadTooLarge,
        Rejection.InvalidJson, Rejection.Duplicate, Rejection.Blocked, Rejection.RateLimited, Rejection.DeviceRateLimited,
    ];
}
