using Klais.Contracts.Proto;

namespace Klais.Grains.Swarm;

/// <summary>
/// The per-edge rate controller of docs/control-plane.md: <c>error = 0.7*lag_error + 0.3*cpu_error</c> with
/// <c>lag_error = (target_lag - lag)/target_lag</c> and <c>cpu_error = target_cpu - cpu</c>; output
/// <c>P + I + D</c> clamped to [-1, 1]; new rate <c>base * (1 + output)</c>. Anti-windup by conditional
/// integration: while the output is saturated and the error pushes further into saturation, the integral is
/// held, and <c>Ki * integral</c> itself never leaves [-1, 1]. State lives in <see cref="PidState"/> so it
/// survives failover with the swarm grain.
/// </summary>
internal static class PidController
{
    public const double LagWeight = 0.7;
    public const double CpuWeight = 0.3;

    public static double Error(double lag, double cpu, ControllerOptions o) =>
        LagWeight * ((o.TargetLag - lag) / o.TargetLag) + CpuWeight * (o.TargetCpu - cpu);

    /// <summary>One step of <paramref name="dtSeconds"/>; returns the output in [-1, 1] and updates <paramref name="state"/>.</summary>
    public static double Step(PidState state, double lag, double cpu, double dtSeconds, ControllerOptions o)
    {
        double e = Error(lag, cpu, o);
        double p = o.Kp * e;
        double d = state.Steps > 0 && dtSeconds > 0 ? o.Kd * (e - state.PreviousError) / dtSeconds : 0;
        double integral = state.Integral + e * dtSeconds;
        double unclamped = p + o.Ki * integral + d;
        bool saturated = Math.Abs(unclamped) > 1;
        if (saturated && Math.Sign(unclamped) == Math.Sign(e))
        {
            integral = state.Integral; // hold: integrating would only wind up further
        }

        if (o.Ki > 0)
        {
            integral = Math.Clamp(integral, -1 / o.Ki, 1 / o.Ki);
        }

        double output = Math.Clamp(p + o.Ki * integral + d, -1, 1);
        state.Integral = integral;
        state.PreviousError = e;
        state.LastOutput = output;
        state.Steps++;
        return output;
    }
}
