using System.Globalization;
using Klais.Client;
using Klais.Grains;

// klais-example http <silo-url> <device> [token]    the grain API over HTTP (token: role operate)
// klais-example orleans <redis> <device> [cluster]  the grains through an Orleans client on the silos' Redis membership
// Lists the fleet's anomalies, blocks <device> for five minutes, and lists them again.
if (args.Length < 3 || args[0] is not ("http" or "orleans"))
{
    Console.Error.WriteLine("usage: klais-example http <silo-url> <device> [token] | orleans <redis> <device> [cluster-id]");
    return 2;
}

string device = args[2];
const int TtlSeconds = 300;
const string Reason = "blocked by the example integration";
if (args[0] == "http")
{
    using var api = new KlaisApiClient(new Uri(args[1]), args.Length > 3 ? args[3] : null);
    Print("before", await api.ListAnomaliesAsync());
    DeviceSnapshot blocked = await api.BlockAsync(device, TtlSeconds, Reason);
    Console.WriteLine(Invariant($"http: blocked {blocked.DeviceId} until {blocked.Block?.ExpiresAt:u} on silo {blocked.OwnerSilo}"));
    Print("after", await api.ListAnomaliesAsync());
}
else
{
    await using KlaisCluster cluster = await KlaisCluster.ConnectAsync(args[1], clusterId: args.Length > 3 ? args[3] : "klais");
    IAnomalyIndexGrain anomalies = cluster.Grains.GetGrain<IAnomalyIndexGrain>(GrainKeys.Fleet);
    Print("before", await anomalies.List());
    DeviceSnapshot blocked = await cluster.Grains.GetGrain<IDeviceGrain>(device).Block(TtlSeconds, Reason);
    Console.WriteLine(Invariant($"orleans: blocked {blocked.DeviceId} until {blocked.Block?.ExpiresAt:u} on silo {blocked.OwnerSilo}"));

    // The anomaly index is written on its own timer: the block shows up in its listing within a second or two.
    for (int i = 0; i < 50 && !(await anomalies.List()).Any(a => a.DeviceId == device && a.Blocked); i++)
    {
        await Task.Delay(100);
    }

    Print("after", await anomalies.List());
}

return 0;

static void Print(string when, IReadOnlyList<AnomalyEntry> entries)
{
    Console.WriteLine(Invariant($"{when}: {entries.Count} anomalies"));
    foreach (AnomalyEntry a in entries)
    {
        Console.WriteLine(Invariant($"  {a.DeviceId} {(a.Blocked ? "blocked" : "watched")} score {a.AnomalyScore:0.0} votes {a.Votes} {a.Reason}"));
    }
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
