using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Klais.Learning.Burst;

/// <summary>
/// The trained burst model (an ONNX file written by <c>klais-train fit</c>) run through ONNX Runtime: one session,
/// its input and output tensors bound once over arrays this class owns (an <see cref="OrtIoBinding"/>), so a
/// prediction copies 16 floats in, runs, and reads one float out, with no managed allocation. Loading checks that the
/// file is the model this build's <see cref="BurstFeatures"/> feed (input <see cref="BurstFeatures.InputName"/> of
/// <see cref="BurstFeatures.Count"/> floats, a float <see cref="ProbabilityOutput"/>); any failure is an error
/// message naming the file, never an exception, so the caller can fall back to <see cref="HoltBurstHeuristic"/>.
/// Calls are serialised by a lock (one prediction a second; uncontended it costs next to nothing).
/// </summary>
public sealed class BurstModel : IDisposable
{
    /// <summary>What <c>/api/swarm</c> reports as the model's kind.</summary>
    public const string Kind = "onnx";

    /// <summary>The output holding P(burst): ML.NET names it after the calibrated <c>Probability</c> column.</summary>
    public const string ProbabilityOutput = "Probability.output";

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly float[] _input = new float[BurstFeatures.Count];
    private readonly float[] _output = new float[1];
    private readonly OrtValue _inputValue;
    private readonly OrtValue _outputValue;
    private readonly OrtIoBinding _binding;
    private readonly Lock _gate = new();

    private BurstModel(string path, string version, InferenceSession session)
    {
        Path = path;
        Version = version;
        _session = session;
        _inputValue = OrtValue.CreateTensorValueFromMemory(_input, [1, BurstFeatures.Count]);
        _outputValue = OrtValue.CreateTensorValueFromMemory(_output, [1, 1]);
        // Session.Run with name and value arrays allocates about 350 bytes a call (its own handle arrays); a binding
        // made once allocates nothing per run.
        _binding = session.CreateIoBinding();
        _binding.BindInput(BurstFeatures.InputName, _inputValue);
        _binding.BindOutput(ProbabilityOutput, _outputValue);
    }

    /// <summary>The file the model was loaded from.</summary>
    public string Path { get; }

    /// <summary>The first 12 hex digits of the file's SHA-256, as <c>sha256:0123456789ab</c>.</summary>
    public string Version { get; }

    /// <summary>Why the last <see cref="TryPredict"/> returned false; null after a success.</summary>
    public string? LastError { get; private set; }

    /// <summary>A model file's version: <c>sha256:</c> and the first 12 hex digits of the SHA-256 of its bytes.</summary>
    public static string VersionOf(ReadOnlySpan<byte> file) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(file))[..12];

    /// <summary>
    /// Loads and checks the model at <paramref name="path"/>. False, with <paramref name="error"/> naming the file and
    /// what is wrong, when it is missing, unreadable, not ONNX, or not a burst model for these features.
    /// </summary>
    public static bool TryLoad(string path, [NotNullWhen(true)] out BurstModel? model, out string error)
    {
        model = null;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = e is FileNotFoundException or DirectoryNotFoundException
                ? $"Burst model {path}: no such file."
                : $"Burst model {path}: cannot be read ({e.Message}).";
            return false;
        }

        string version = VersionOf(bytes);
        InferenceSession session;
        try
        {
            using var options = new SessionOptions
            {
                // One small tree ensemble a second: ONNX Runtime's thread pools would only compete with the silo.
                IntraOpNumThreads = 1,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException e)
        {
            error = $"Burst model {path}: not a valid ONNX model ({e.Message}).";
            return false;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            error = $"Burst model {path}: ONNX Runtime could not be loaded ({e.Message}).";
            return false;
        }

        string? mismatch = CheckSignature(session);
        if (mismatch is not null)
        {
            session.Dispose();
            error = $"Burst model {path}: {mismatch}";
            return false;
        }

        try
        {
            model = new BurstModel(path, version, session);
        }
        catch (OnnxRuntimeException e)
        {
            session.Dispose();
            error = $"Burst model {path}: binding its input and output failed ({e.Message}).";
            return false;
        }

        error = string.Empty;
        return true;
    }

    /// <summary>
    /// P(burst within the label horizon) for one feature row from <see cref="BurstFeatures.Write"/>. False, with
    /// <see cref="LastError"/> set, when the row has the wrong length or a non-finite value or the run fails.
    /// </summary>
    public bool TryPredict(ReadOnlySpan<float> features, out float probability)
    {
        probability = 0;
        if (features.Length != BurstFeatures.Count)
        {
            LastError = $"A feature row has {BurstFeatures.Count} floats, got {features.Length}.";
            return false;
        }

        for (int i = 0; i < features.Length; i++)
        {
            if (!float.IsFinite(features[i]))
            {
                LastError = $"Feature {BurstFeatures.Names[i]} is {features[i]}.";
                return false;
            }
        }

        lock (_gate)
        {
            features.CopyTo(_input);
            try
            {
                _session.RunWithBinding(_runOptions, _binding);
            }
            catch (OnnxRuntimeException e)
            {
                LastError = $"Burst model {Path}: run failed ({e.Message}).";
                return false;
            }

            float p = _output[0];
            if (!(p >= 0 && p <= 1))
            {
                LastError = $"Burst model {Path}: probability {p} is outside [0, 1].";
                return false;
            }

            probability = p;
            LastError = null;
            return true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _binding.Dispose();
            _inputValue.Dispose();
            _outputValue.Dispose();
            _runOptions.Dispose();
            _session.Dispose();
        }
    }

    private static string? CheckSignature(InferenceSession session)
    {
        if (!session.InputMetadata.TryGetValue(BurstFeatures.InputName, out NodeMetadata? input) || session.InputMetadata.Count != 1)
        {
            return $"its inputs are [{string.Join(", ", session.InputMetadata.Keys)}], a burst model for these features has one, "
                + $"{BurstFeatures.InputName} (a model trained on another feature set?).";
        }

        if (input.ElementDataType != TensorElementType.Float || input.Dimensions.Length != 2 || input.Dimensions[1] != BurstFeatures.Count)
        {
            return $"input {BurstFeatures.InputName} is {input.ElementDataType}[{string.Join(", ", input.Dimensions)}], "
                + $"expected Float[-1, {BurstFeatures.Count}].";
        }

        if (!session.OutputMetadata.TryGetValue(ProbabilityOutput, out NodeMetadata? output) || output.ElementDataType != TensorElementType.Float)
        {
            return $"it has no float output {ProbabilityOutput} (outputs: {string.Join(", ", session.OutputMetadata.Keys)}).";
        }

        return null;
    }
}
