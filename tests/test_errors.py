"""Bad input fails loudly, at once, with a message that names the problem and the fix."""

import jax
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import surrogate

I = jnp.full(100, 2.0)  # 10 ms of 2 nA at dt = 0.1 ms


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf"), jnp.float32(-1.0)])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match=r"dt must be a finite time step > 0 in ms, got dt="):
        nj.simulate(nj.LIF(), I, dt=dt)


def test_inputs_that_do_not_broadcast_with_parameters():
    model = nj.LIF(tau=jnp.full(3, 10.0))
    with pytest.raises(ValueError) as info:
        nj.simulate(model, jnp.ones((100, 4)), dt=0.1)
    message = str(info.value)
    assert "batch shape (4,) do not broadcast" in message  # the problem
    assert ".tau: (3,)" in message  # which parameter
    assert "Pass inputs shaped (n_steps, *population_shape)" in message  # the fix
    with pytest.raises(ValueError, match=r"\.g_na: \(2,\)"):
        nj.simulate(nj.HodgkinHuxley(g_na=jnp.array([100.0, 120.0])), jnp.ones((10, 3)), dt=0.1)


@pytest.mark.parametrize("inputs", [jnp.array(2.0), 2.0, jnp.zeros((0, 3))], ids=str)
def test_inputs_without_time_axis(inputs):
    with pytest.raises(ValueError) as info:
        nj.simulate(nj.LIF(), inputs, dt=0.1)
    message = str(info.value)
    assert "inputs must be shaped (n_steps, *batch) with n_steps >= 1" in message
    assert "jnp.full(int(T / dt), I)" in message  # how to make a constant current


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_parameter(value):
    with pytest.raises(ValueError, match=r"LIF\.tau is not finite .* must be a finite number"):
        nj.simulate(nj.LIF(tau=value), I, dt=0.1)
    with pytest.raises(ValueError, match=r"HodgkinHuxley\.g_na is not finite"):
        nj.simulate(nj.HodgkinHuxley(g_na=jnp.array([120.0, value])), jnp.ones((10, 2)), dt=0.1)


def test_non_finite_parameter_under_jit():
    """Traced parameters cannot be checked at trace time: `eqx.error_if` raises at run
    time instead of returning NaN traces. (JAX surfaces the callback's error as a
    `JaxRuntimeError`, a RuntimeError, or from an already compiled executable as a
    ValueError; the message is what matters.)"""
    run = jax.jit(lambda tau: nj.simulate(nj.LIF(tau=tau), I, dt=0.1).v)
    assert jnp.all(jnp.isfinite(run(10.0)))
    message = r"a parameter of LIF .*\.tau.* is not finite"
    with pytest.raises((RuntimeError, ValueError), match=message):
        jax.block_until_ready(run(jnp.nan))
    grad = jax.jit(jax.grad(lambda tau: nj.simulate(nj.LIF(tau=tau), I, dt=0.1).v[-1]))
    with pytest.raises((RuntimeError, ValueError), match=r"not finite"):
        jax.block_until_ready(grad(jnp.inf))


def test_unknown_option_suggests_the_right_one():
    with pytest.raises(TypeError) as info:
        nj.simulate(nj.LIF(), I, dt=0.1, checkpoint=10)
    message = str(info.value)
    assert "unknown option 'checkpoint'" in message
    assert "Did you mean 'checkpoint_every'?" in message
    with pytest.raises(TypeError, match=r"Did you mean 'save_every'\?"):
        nj.simulate(nj.LIF(), I, dt=0.1, save_evry=2)
    # Without a close match it lists every valid option.
    with pytest.raises(TypeError, match=r"Valid options: dt, solver, .*progress"):
        nj.simulate(nj.LIF(), I, dt=0.1, frobnicate=True)


@pytest.mark.parametrize("solver", ["rk4", nj.RK4, 4])
def test_non_solver(solver):
    """A string, a class instead of an instance, anything not an AbstractSolver."""
    with pytest.raises(TypeError, match=r"solver must be a solver object such as "):
        nj.simulate(nj.LIF(), I, dt=0.1, solver=solver)


def test_non_model():
    with pytest.raises(TypeError, match=r"needs a neurojax model \(an AbstractModel\), got str"):
        nj.simulate("lif", I, dt=0.1)


def test_record_unknown_variable():
    with pytest.raises(ValueError) as info:
        nj.simulate(nj.HodgkinHuxley(), jnp.ones(10), dt=0.025, record=("v", "w"))
    message = str(info.value)
    assert "cannot record ['w']" in message
    assert "('v', 'm', 'h', 'n')" in message  # the names that exist


@pytest.mark.parametrize("save_every", [7, 0, -2, 200])
def test_save_every_not_dividing_n_steps(save_every):
    with pytest.raises(ValueError) as info:
        nj.simulate(nj.LIF(), I, dt=0.1, save_every=save_every)
    message = str(info.value)
    assert f"save_every={save_every} must be a positive divisor of n_steps=100" in message
    assert "trim or pad the inputs" in message


@pytest.mark.parametrize("checkpoint_every", [15, 0])
def test_checkpoint_every_not_multiple_of_save_every(checkpoint_every):
    with pytest.raises(ValueError, match=r"must be a positive multiple of save_every=10"):
        nj.simulate(nj.LIF(), I, dt=0.1, save_every=10, checkpoint_every=checkpoint_every)


@pytest.mark.parametrize("slope", [0.0, -5.0, float("nan")])
def test_bad_surrogate_slope(slope):
    with pytest.raises(ValueError, match=r"surrogate slope must be > 0, got"):
        nj.LIF(surrogate=surrogate.FastSigmoid(slope=slope))
    with pytest.raises(ValueError, match=r"surrogate slope must be > 0"):
        surrogate.Triangle(slope)
