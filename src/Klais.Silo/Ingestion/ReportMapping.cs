using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Klais.Contracts.Proto;
using Klais.Grains;

namespace Klais.Silo.Ingestion;

/// <summary>From klais.reports records to the grains' argument types.</summary>
internal static class ReportMapping
{
    public static bool TryRead(byte[]? value, [NotNullWhen(true)] out ReportEnvelope? envelope, [NotNullWhen(false)] out string? problem)
    {
        envelope = null;
        if (value is null || value.Length == 0)
        {
            problem = "empty record";
            return false;
        }

        try
        {
            envelope = ReportEnvelope.Parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            problem = "not a ReportEnvelope: " + ex.Message;
            return false;
        }

        if (envelope.SchemaVersion != Schema.Current)
        {
            problem = $"schema version {envelope.SchemaVersion}, this silo reads {Schema.Current}";
            envelope = null;
            return false;
        }

        if (string.IsNullOrEmpty(envelope.SourceId))
        {
            problem = "no source id";
            envelope = null;
            return false;
        }

        problem = null;
        return true;
    }

    public static DeviceObservation ToObservation(ReportEnvelope envelope)
    {
        DeviceReport r = envelope.Device;
        return new DeviceObservation
        {
            SourceId = envelope.SourceId,
            Sequence = envelope.Sequence,
            WindowStartUnixMs = r.WindowStartUnixMs,
            WindowMs = r.WindowMs,
            Packets = r.Packets,
            Bytes = r.Bytes,
            Duplicates = r.Duplicates,
            Gaps = r.Gaps,
            SourceAddresses = r.SourceAddresses.Count == 0 ? [] : [.. r.SourceAddresses],
            DistinctSources = r.DistinctSources,
            Interim = r.Interim,
            VoteReason = r.Vote is { } v && v.Reason.Length > 0 ? v.Reason : null,
            VoteScore = r.Vote?.Score ?? 0,
        };
    }

    public static NodeObservation ToObservation(string sourceId, ulong sequence, NodeReport r) => new()
    {
        SourceId = sourceId,
        Sequence = sequence,
        ReceivedPerSecond = r.ReceivedPerSecond,
        PassedPerSecond = r.PassedPerSecond,
        DroppedPerSecond = r.DroppedPerSecond,
        KafkaLag = r.KafkaLag,
        Cpu = r.Cpu,
        DegradationLevel = r.DegradationLevel,
        BaseRate = r.BaseRate,
        CurrentRate = r.CurrentRate,
        AppliedControlVersion = r.AppliedControlVersion,
        AppliedPolicyVersion = r.AppliedPolicyVersion,
        ActiveDevices = r.ActiveDevices,
        RejectedPolicyVersion = r.RejectedPolicyVersion,
        PolicyRejection = r.PolicyRejection,
    };
}
