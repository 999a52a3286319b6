using System.Diagnostics;
using System.Text;
using Klais.Testing;

namespace Klais.Grains.Tests.Cluster;

/// <summary>klais-silo as a separate process (the published klais-silo.dll next to the tests), with its output captured.</summary>
internal sealed class SiloProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SiloProcess(string id, IReadOnlyDictionary<string, string> environment)
    {
        Id = id;
        ProcessStartInfo info = ChildProcess.Info("dotnet", Path.Combine(AppContext.BaseDirectory, "klais-silo.dll"));
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("KLAIS_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["KLAIS_SILO_ID"] = id;
        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        Process = ChildProcess.Start(info);
        Process.OutputDataReceived += (_, e) =>
        {
            Append(e.Data);
            if (e.Data?.StartsWith("listening=", StringComparison.Ordinal) == true)
            {
                _listening.TrySetResult(e.Data["listening=".Length..]);
            }
        };
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public string Id { get; }

    public Process Process { get; }

    public string Url { get; private set; } = "";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task WaitListening(TimeSpan timeout)
    {
        try
        {
            Url = await _listening.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"silo {Id} did not start within {timeout}:\n{Output}");
        }
    }

    /// <summary>Sends a signal (STOP, CONT, TERM) with kill(1).</summary>
    public void Signal(string signal)
    {
        using Process kill = ChildProcess.Run(new ProcessStartInfo("kill", $"-{signal} {Process.Id}"));
        kill.WaitForExit();
    }

    /// <summary>SIGKILL: no state written, no offsets committed, no goodbye to the cluster.</summary>
    public void Kill9()
    {
        Process.Kill(entireProcessTree: false);
        Process.WaitForExit(10_000);
    }

    private void Append(string? line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Signal("CONT"); // a SIGSTOPped silo: resumed first, so its sockets and threads go away with it at once
            Process.Kill();
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }
}
