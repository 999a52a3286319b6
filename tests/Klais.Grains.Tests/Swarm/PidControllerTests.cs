using Klais.Contracts.Proto;
using Klais.Grains.Swarm;

namespace Klais.Grains.Tests.Swarm;

public sealed class PidControllerTests
{
    private static readonly ControllerOptions Options = new() { TargetLag = 10_000, TargetCpu = 0.7, Kp = 0.5, Ki = 0.1, Kd = 0.05 };

    [Fact]
    public void Error_weights_lag_0_7_and_cpu_0_3()
    {
        // lag 5000 of 10000: lag_error 0.5; cpu 0.5 of 0.7: cpu_error 0.2 -> 0.7*0.5 + 0.3*0.2 = 0.41
        Assert.Equal(0.41, PidController.Error(5000, 0.5, Options), 12);
        // lag 20000: lag_error -1; cpu 0.9: cpu_error -0.2 -> -0.7 - 0.06 = -0.76
        Assert.Equal(-0.76, PidController.Error(20_000, 0.9, Options), 12);
    }

    [Fact]
    public void First_step_is_p_plus_i_without_d_then_d_follows_the_change_of_error()
    {
        var state = new PidState();
        // e = 0.41, dt = 1: P = 0.205, integral = 0.41, I = 0.041, D = 0 (first step) -> 0.246
        Assert.Equal(0.246, PidController.Step(state, 5000, 0.5, 1, Options), 12);
        Assert.Equal(0.41, state.Integral, 12);

        // e = 0.7*0.8 + 0.3*0.3 = 0.65 (lag 2000, cpu 0.4): P = 0.325, integral = 1.06, I = 0.106, D = 0.05*(0.65-0.41)/1 = 0.012
        Assert.Equal(0.443, PidController.Step(state, 2000, 0.4, 1, Options), 12);
        Assert.Equal(1.06, state.Integral, 12);
        Assert.Equal(0.65, state.PreviousError, 12);
        Assert.Equal(2UL, state.Steps);
    }

    [Fact]
    public void Output_is_clamped_and_the_new_rate_is_base_times_one_plus_output()
    {
        var state = new PidState();
        // lag 60000: lag_error -5, cpu 1.0: cpu_error -0.3 -> e = -3.59; P alone = -1.795 -> clamped to -1: rate 0
        Assert.Equal(-1, PidController.Step(state, 60_000, 1.0, 1, Options));
        var idle = new PidState();
        double output = PidController.Step(idle, 0, 0, 1, Options); // e = 0.7 + 0.21 = 0.91: P 0.455 + I 0.091 = 0.546
        Assert.Equal(0.546, output, 12);
        Assert.Equal(15_460, 10_000 * (1 + output), 6);
    }

    [Fact]
    public void Integral_does_not_wind_up_while_saturated()
    {
        var state = new PidState();
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(-1, PidController.Step(state, 60_000, 1.0, 1, Options));
        }

        // Held at the first step's value: the error pushed further into saturation every time after.
        Assert.Equal(0, state.Integral, 12);

        // Back to the target: the output recovers at once instead of unwinding 50 steps of integral.
        double recovered = PidController.Step(state, 10_000, 0.7, 1, Options);
        Assert.True(recovered > -0.2, $"output {recovered}");
    }

    [Fact]
    public void Integral_term_never_exceeds_one()
    {
        var state = new PidState();
        var slow = Options with { Kp = 0.01, Kd = 0, Ki = 0.5 };
        for (int i = 0; i < 100; i++)
        {
            PidController.Step(state, 9000, 0.69, 1, slow); // small positive error, output below saturation for a while
        }

        Assert.True(slow.Ki * state.Integral <= 1 + 1e-12, $"Ki*integral = {slow.Ki * state.Integral}");
    }
}
