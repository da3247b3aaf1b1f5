"""Bad input fails loudly, at once, with a message that names the problem and the fix."""

import jax
import jax.numpy as jnp
import pytest

import neurojax as nj
from neurojax import surrogate

I = jnp.full(100, 2.0)  # 10 ms of 2 nA at dt = 0.1 ms


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf"), jnp.float32(-1.0)])
def test_bad_dt(dt):
    with pytest.raises(ValueError, match=r"dt must be a finite time > 0 in ms, got dt="):
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
    """Caught when the model is built, naming the parameter and its valid range."""
    with pytest.raises(ValueError, match=r"LIF\.tau must be > 0 .*got \[(nan|inf|-inf)\]"):
        nj.LIF(tau=value)
    with pytest.raises(ValueError, match=r"HodgkinHuxley\.g_na must be >= 0"):
        nj.HodgkinHuxley(g_na=jnp.array([120.0, value]))


def test_non_finite_parameter_under_jit():
    """Traced parameters cannot be checked at trace time: `eqx.error_if` raises at run
    time instead of returning NaN traces. (JAX surfaces the callback's error as a
    `JaxRuntimeError`, a RuntimeError, or from an already compiled executable as a
    ValueError; the message is what matters.)"""
    run = jax.jit(lambda tau: nj.simulate(nj.LIF(tau=tau), I, dt=0.1).v)
    assert jnp.all(jnp.isfinite(run(10.0)))
    message = r"LIF\.tau must be > 0"  # names the culprit, not every parameter
    with pytest.raises((RuntimeError, ValueError), match=message):
        jax.block_until_ready(run(jnp.nan))
    with pytest.raises((RuntimeError, ValueError), match=message):
        jax.block_until_ready(run(-1.0))
    grad = jax.jit(jax.grad(lambda tau: nj.simulate(nj.LIF(tau=tau), I, dt=0.1).v[-1]))
    with pytest.raises((RuntimeError, ValueError), match=message):
        jax.block_until_ready(grad(jnp.inf))


def test_strategies_are_objects_not_strings():
    """What to save, how to differentiate and how to report are typed objects; a string
    or a wrong object is refused with an example of the right one."""
    with pytest.raises(TypeError, match=r"saveat must be an instance of SaveAt, such as"):
        nj.simulate(nj.LIF(), I, dt=0.1, saveat=5)
    with pytest.raises(TypeError, match=r"adjoint must be an instance of AbstractAdjoint"):
        nj.simulate(nj.LIF(), I, dt=0.1, adjoint="checkpoint")
    with pytest.raises(TypeError, match=r"progress_meter must be an instance of"):
        nj.simulate(nj.LIF(), I, dt=0.1, progress_meter=True)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'save_every'"):
        nj.simulate(nj.LIF(), I, dt=0.1, save_every=2)


@pytest.mark.parametrize("solver", ["rk4", nj.RK4, 4])
def test_non_solver(solver):
    """A string, a class instead of an instance, anything not an AbstractSolver."""
    with pytest.raises(TypeError, match=r"solver must be an instance of AbstractSolver, such as"):
        nj.simulate(nj.LIF(), I, dt=0.1, solver=solver)
    if solver == "rk4":
        with pytest.raises(TypeError, match=r"Did you mean neurojax\.RK4\(\)\?"):
            nj.simulate(nj.LIF(), I, dt=0.1, solver=solver)


def test_non_model():
    with pytest.raises(TypeError, match=r"model must be an instance of AbstractModel.*got 'lif'"):
        nj.simulate("lif", I, dt=0.1)


def test_saveat_unknown_variable():
    with pytest.raises(ValueError) as info:
        nj.simulate(nj.HodgkinHuxley(), jnp.ones(10), dt=0.025, saveat=nj.SaveAt(vars=("v", "w")))
    message = str(info.value)
    assert "names ['w']" in message
    assert "('v', 'm', 'h', 'n')" in message  # the names that exist


@pytest.mark.parametrize("every", [7, 200])
def test_saveat_every_not_dividing_n_steps(every):
    with pytest.raises(ValueError) as info:
        nj.simulate(nj.LIF(), I, dt=0.1, saveat=nj.SaveAt(every=every))
    message = str(info.value)
    assert f"SaveAt(every={every}) must divide n_steps=100" in message
    assert "trim or pad the inputs" in message


@pytest.mark.parametrize("every", [0, -2, 2.5])
def test_bad_strategy_values(every):
    with pytest.raises(ValueError, match=r"every must be an int >= 1"):
        nj.SaveAt(every=every)
    with pytest.raises(ValueError, match=r"every must be an int >= 1 or None"):
        nj.CheckpointAdjoint(every=every)


@pytest.mark.parametrize("slope", [0.0, -5.0, float("nan")])
def test_bad_surrogate_slope(slope):
    with pytest.raises(ValueError, match=r"surrogate slope must be > 0, got"):
        nj.LIF(surrogate=surrogate.FastSigmoid(slope=slope))
    with pytest.raises(ValueError, match=r"surrogate slope must be > 0"):
        surrogate.Triangle(slope)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_models_are_refused_alike(dtype):
    """float16 cannot resolve a step's voltage change (−65 mV is held to 0.03 mV): point
    neurons, like cells and networks, are refused by name with the cast that fixes it —
    also when the cast came after construction (`jax.tree.map` skips `__check_init__`)."""
    half = jax.tree.map(
        lambda x: x.astype(dtype) if isinstance(x, jax.Array) else x, nj.HodgkinHuxley()
    )
    with pytest.raises(TypeError, match=r"HodgkinHuxley\.g_na is .*float32"):
        nj.simulate(half, jnp.zeros(10), dt=0.025)
