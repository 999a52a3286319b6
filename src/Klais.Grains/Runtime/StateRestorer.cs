using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Klais.Contracts.Proto;

namespace Klais.Grains.Runtime;

/// <summary>What restoring one partition found.</summary>
internal sealed record RestoreResult(Dictionary<string, byte[]> State, long Epoch, long StateEnd, int Records, int Fenced, TimeSpan Took);

/// <summary>
/// Restores a partition's grains from its klais.grain-state partition and claims ownership of it, with fencing:
/// <list type="number">
/// <item>read the partition from the beginning to its end; the highest ownership claim seen is the current epoch
/// <c>E</c>, and every state record written under an epoch lower than the newest claim read before it is ignored
/// (a former owner that kept writing after losing the partition: a zombie);</item>
/// <item>write the claim <c>__owner/&lt;p&gt;</c> with epoch <c>E+1</c> and wait for its acknowledgement;</item>
/// <item>read on up to the claim itself, applying the same rule (records of the previous owner that landed
/// before the claim count, anything older does not).</item>
/// </list>
/// From the claim on, every record this silo writes carries <c>E+1</c>; a later owner's claim fences it off the
/// same way. The last record per key wins; an empty value (tombstone) deletes the grain.
/// </summary>
internal sealed class StateRestorer(IConsumer<byte[]?, byte[]?> reader, IProducer<byte[], byte[]> producer, string siloId, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public RestoreResult Restore(int partition)
    {
        var took = Stopwatch.StartNew();
        var tp = new TopicPartition(ControlPlaneTopics.GrainState, partition);
        var state = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        long floor = 0;
        int records = 0, fenced = 0;

        reader.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
        try
        {
            long end = reader.QueryWatermarkOffsets(tp, Timeout).High.Value;
            ReadUpTo(end, ref floor, ref records, ref fenced, state);

            long epoch = floor + 1;
            long claimed = Claim(tp, epoch);
            ReadUpTo(claimed + 1, ref floor, ref records, ref fenced, state);
            if (floor != epoch)
            {
                throw new InvalidOperationException(
                    $"Partition {partition}: another claim (epoch {floor}) landed after ours (epoch {epoch}); not taking it.");
            }

            return new RestoreResult(state, epoch, claimed + 1, records, fenced, took.Elapsed);
        }
        finally
        {
            reader.Unassign();
        }
    }

    /// <summary>
    /// The fast path for a partition this silo held until the rebalance and gets back: when nothing was written to its
    /// changelog partition since <paramref name="stateEnd"/> (the end of this silo's own acknowledged writes), the grains
    /// in memory are exactly the restored state; only a new claim is written (epoch + 1) and read back. False, and
    /// nothing changed but maybe a claim, when anyone else wrote there: the caller restores in full.
    /// </summary>
    public bool TryKeep(int partition, long stateEnd, long epoch, out long claimedEnd)
    {
        claimedEnd = 0;
        var tp = new TopicPartition(ControlPlaneTopics.GrainState, partition);
        reader.Assign(new TopicPartitionOffset(tp, stateEnd));
        try
        {
            if (reader.QueryWatermarkOffsets(tp, Timeout).High.Value != stateEnd)
            {
                return false;
            }

            long claimed = Claim(tp, epoch + 1);
            long floor = 0;
            int records = 0, fenced = 0;
            var tail = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            ReadUpTo(claimed + 1, ref floor, ref records, ref fenced, tail);
            claimedEnd = claimed + 1;
            return records == 1 && floor == epoch + 1;
        }
        finally
        {
            reader.Unassign();
        }
    }

    private long Claim(TopicPartition tp, long epoch)
    {
        var claim = new GrainStateRecord
        {
            SchemaVersion = Schema.Current,
            Epoch = epoch,
            SiloId = siloId,
            Owner = new OwnershipClaim { Partition = tp.Partition.Value, ClaimedUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds() },
        };
        return producer.ProduceAsync(tp, new Message<byte[], byte[]>
        {
            Key = Encoding.UTF8.GetBytes(GrainKey.OwnerKey(tp.Partition.Value)),
            Value = claim.ToByteArray(),
        }).WaitAsync(Timeout).GetAwaiter().GetResult().Offset.Value;
    }

    private void ReadUpTo(long end, ref long floor, ref int records, ref int fenced, Dictionary<string, byte[]> state)
    {
        var elapsed = Stopwatch.StartNew();
        long next = 0;
        while (next < end)
        {
            TimeSpan left = Timeout - elapsed.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Restoring {ControlPlaneTopics.GrainState}: offset {next} of {end} after {Timeout}.");
            }

            ConsumeResult<byte[]?, byte[]?>? r = reader.Consume(left);
            if (r is null || r.IsPartitionEOF)
            {
                continue;
            }

            next = r.Offset.Value + 1;
            records++;
            string? key = r.Message.Key is null ? null : Encoding.UTF8.GetString(r.Message.Key);
            if (key is null)
            {
                continue;
            }

            if (r.Message.Value is not { Length: > 0 } value)
            {
                state.Remove(key);
                continue;
            }

            GrainStateRecord record;
            try
            {
                record = GrainStateRecord.Parser.ParseFrom(value);
            }
            catch (InvalidProtocolBufferException)
            {
                continue;
            }

            if (record.BodyCase == GrainStateRecord.BodyOneofCase.Owner)
            {
                floor = Math.Max(floor, record.Epoch);
            }
            else if (record.Epoch < floor)
            {
                fenced++;
            }
            else if (Schema.IsReadable(record.SchemaVersion))
            {
                state[key] = value;
            }
        }
    }
}
