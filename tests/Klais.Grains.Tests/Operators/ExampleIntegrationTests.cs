using System.Diagnostics;
using Klais.Client;
using Klais.Grains.Tests.Silo;
using Klais.Kafka;
using Klais.Silo.Hosting;
using Klais.Silo.Ingestion;
using Klais.Testing;

namespace Klais.Grains.Tests.Operators;

/// <summary>
/// examples/Klais.Example, run as its own process against a live silo on a real redis-server: it lists anomalies and
/// blocks a device over HTTP (with an operate token) and through an Orleans client on the silos' Redis membership.
/// </summary>
public sealed class ExampleIntegrationTests
{
    private const string Operator = "operator-token-0123456789";

    [Fact]
    public async Task The_example_blocks_a_device_over_http_and_through_orleans()
    {
        using var redis = new RedisServer();
        using KafkaDevCluster cluster = KafkaDevCluster.Start(brokers: 1);
        SiloTopics.CreateOnDevCluster(cluster, reportPartitions: 1);
        string tokens = Path.GetTempFileName();
        File.WriteAllLines(tokens, [$"{Operator} operate"]);
        await using KlaisSilo silo = await InProcessSilo.StartAsync(cluster,
            ("KLAIS_REDIS", redis.Configuration), ("KLAIS_CLUSTER_ID", "example"), ("KLAIS_API_TOKENS_FILE", tokens));
        File.Delete(tokens);

        (int httpExit, string http) = await RunAsync("http", silo.ApiUrl, "dev-ex-http", Operator);
        Assert.True(httpExit == 0, http);
        Assert.Contains("http: blocked dev-ex-http until", http, StringComparison.Ordinal);
        Assert.Contains("  dev-ex-http blocked", http, StringComparison.Ordinal);

        (int orleansExit, string orleans) = await RunAsync("orleans", redis.Configuration, "dev-ex-orleans", "example");
        Assert.True(orleansExit == 0, orleans);
        Assert.Contains("orleans: blocked dev-ex-orleans until", orleans, StringComparison.Ordinal);
        Assert.Contains("before: 1 anomalies", orleans, StringComparison.Ordinal); // the HTTP run's block
        Assert.Contains("  dev-ex-orleans blocked", orleans, StringComparison.Ordinal);

        // Both blocks are the grains' own: a reader of the API sees them.
        using var api = new KlaisApiClient(new Uri(silo.ApiUrl), Operator);
        foreach (string device in new[] { "dev-ex-http", "dev-ex-orleans" })
        {
            Assert.Equal("blocked by the example integration", (await api.GetDeviceAsync(device))?.Block?.Reason);
        }

        (int refusedExit, string refused) = await RunAsync("http", silo.ApiUrl, "dev-ex-none");
        Assert.NotEqual(0, refusedExit);
        Assert.Contains("401", refused, StringComparison.Ordinal);
    }

    /// <summary>examples/Klais.Example's own output (its dependencies beside it), built in this test's configuration.</summary>
    private static string ExampleDll()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)); // tests/Klais.Grains.Tests/bin/<config>/<tfm>
        string configuration = output.Parent!.Name;
        string repository = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(repository, "examples", "Klais.Example", "bin", configuration, output.Name, "klais-example.dll");
        Assert.True(File.Exists(dll), dll + " is not built");
        return dll;
    }

    private static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(ExampleDll());
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = ChildProcess.Run(info);
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        return (process.ExitCode, await output + await errors);
    }
}
