"""`simulate`: JAX transformations, populations, recording options, continuation, the time
axis, progress output and precision."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.neurons import FitzHughNagumo

DT = 0.1


def _lif_inputs(n=400, currents=(0.5, 2.0, 4.0)):
    """(n, 3) constant currents, nA: one silent neuron and two firing ones."""
    return jnp.broadcast_to(jnp.asarray(currents), (n, len(currents)))


def test_jit_compiles_once_per_shape():
    traces = []

    @jax.jit
    def run(model, inputs):
        traces.append(inputs.shape)  # runs only while tracing
        return nj.simulate(model, inputs, dt=DT).v

    a = run(nj.LIF(), jnp.full(100, 2.0))
    b = run(nj.LIF(tau=20.0, v_th=-52.0), jnp.full(100, 3.0))  # new values, same shapes
    assert len(traces) == 1
    np.testing.assert_array_equal(a, nj.simulate(nj.LIF(), jnp.full(100, 2.0), dt=DT).v)
    assert not np.array_equal(a, b)
    run(nj.LIF(), jnp.full(200, 2.0))  # a new number of steps
    run(nj.LIF(), jnp.full((100, 3), 2.0))  # a population
    assert traces == [(100,), (200,), (100, 3)]
    run(nj.LIF(), jnp.full((100, 3), 1.0))
    assert len(traces) == 3


def _count_compilations(fn, *args):
    """How many XLA compilations `fn(*args)` triggers."""
    compiled = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        jax.block_until_ready(fn(*args))
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return len(compiled)


def test_eager_derivatives_do_not_recompile():
    """`jax.grad` / `jax.jvp` / `jax.vmap` through `simulate` outside any `jit` go through
    one cached compiled run: the second call, with other parameter values, compiles
    nothing. (Inlined, the scan was traced and compiled afresh on every call: 2
    compilations and 1–3 s per gradient of a 2000-step HH run; measured 0.05 s now.)
    FitzHugh–Nagumo: its parameter enters its rest state, found by Newton iterations
    (which recompiled for every parameter value when called eagerly), and its dynamics."""
    inputs = jnp.full(2000, 0.5)

    def loss(a):
        return nj.simulate(FitzHughNagumo(a=a), inputs, dt=0.1).v.mean()

    grad = jax.grad(loss)
    first = grad(0.7)
    assert _count_compilations(grad, 0.6) == 0
    assert np.isfinite(float(first)) and float(first) != float(grad(0.6))
    jvp = lambda a: jax.jvp(loss, (a,), (1.0,))  # noqa: E731
    jvp(0.7)
    assert _count_compilations(jvp, 0.6) == 0
    batched = jax.vmap(loss)
    batched(jnp.array([0.6, 0.7]))
    assert _count_compilations(batched, jnp.array([0.65, 0.75])) == 0
    # the same gradient as under jit (where the run is inlined)
    np.testing.assert_allclose(float(grad(0.6)), float(jax.jit(grad)(0.6)), rtol=1e-5)


def test_grad_matches_analytic_derivative(x64):
    """Subthreshold LIF: V(t) = v_rest + R·I·(1 − e^(−t/τ)), so
    ∂V/∂τ = −R·I·t·e^(−t/τ)/τ², ∂V/∂R = I·(1 − e^(−t/τ)), ∂V/∂I = R·(1 − e^(−t/τ)).
    Exponential Euler is exact for this ODE, so its gradient is the analytic one up to
    rounding (1e-10 relative: float64 over 300 steps)."""
    n, current = 300, 1.2
    t = n * DT

    def v_end(tau, r, current):
        return nj.simulate(nj.LIF(tau=tau, r=r), jnp.full(n, current), dt=DT).v[-1]

    g_tau, g_r, g_i = jax.grad(v_end, argnums=(0, 1, 2))(10.0, 10.0, current)
    decay = math.exp(-t / 10.0)
    assert float(g_tau) == pytest.approx(-10.0 * current * t * decay / 100.0, rel=1e-10)
    assert float(g_r) == pytest.approx(current * (1 - decay), rel=1e-10)
    assert float(g_i) == pytest.approx(10.0 * (1 - decay), rel=1e-10)


def test_vmap_over_parameters_and_inputs():
    """`jax.vmap` over a model parameter or over the inputs gives the population run."""
    taus = jnp.array([5.0, 10.0, 20.0])
    inputs = _lif_inputs()
    population = nj.simulate(nj.LIF(tau=taus), inputs, dt=DT)

    by_tau = jax.vmap(lambda tau, i: nj.simulate(nj.LIF(tau=tau), i, dt=DT).v)(taus, inputs.T)
    np.testing.assert_allclose(by_tau.T, population.v, rtol=1e-6)  # float32: same ops
    # vmap over inputs only, the parameters shared.
    by_input = jax.vmap(lambda i: nj.simulate(nj.LIF(), i, dt=DT))(inputs.T)
    reference = nj.simulate(nj.LIF(), inputs, dt=DT)
    np.testing.assert_allclose(by_input.v.T, reference.v, rtol=1e-6)
    np.testing.assert_array_equal(by_input.spikes.T, reference.spikes)
    assert reference.spikes[:, 0].sum() == 0 and reference.spikes[:, 2].sum() >= 5


def test_population_with_array_parameters():
    """(N,) parameters with (n_steps, N) inputs, and with (n_steps,) inputs broadcast to
    every neuron: each column equals the run of one scalar neuron."""
    taus = jnp.array([5.0, 10.0, 20.0])
    inputs = _lif_inputs(200)
    per_neuron = nj.simulate(nj.LIF(tau=taus), inputs, dt=DT)
    shared = nj.simulate(nj.LIF(tau=taus), inputs[:, 1], dt=DT)
    assert per_neuron.v.shape == shared.v.shape == (200, 3)
    assert per_neuron.final_state.z.refractory.shape == (3,)
    for j in range(3):
        alone = nj.simulate(nj.LIF(tau=taus[j]), inputs[:, j], dt=DT)
        np.testing.assert_allclose(per_neuron.v[:, j], alone.v, rtol=1e-6)
        np.testing.assert_array_equal(per_neuron.spikes[:, j], alone.spikes)
        alone = nj.simulate(nj.LIF(tau=taus[j]), inputs[:, 1], dt=DT)
        np.testing.assert_allclose(shared.v[:, j], alone.v, rtol=1e-6)
    # A 2-D population: (n, 2, 3) inputs with (3,) parameters.
    grid = nj.simulate(nj.LIF(tau=taus), jnp.stack([inputs, 2 * inputs], axis=1), dt=DT)
    assert grid.v.shape == (200, 2, 3)
    np.testing.assert_allclose(grid.v[:, 0], per_neuron.v, rtol=1e-6)


def test_saveat_vars_and_fn_keep_only_what_is_asked():
    n = 200
    full = nj.simulate(nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025)
    part = nj.simulate(
        nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025, saveat=nj.SaveAt(vars=("v", "m"))
    )
    assert part.states.h is None and part.states.n is None
    np.testing.assert_array_equal(part.states.m, full.states.m)
    assert part.v is part.states.v  # v is kept once, not copied
    np.testing.assert_array_equal(part.v, full.v)
    # The final state stays complete, so the run can be continued.
    final, reference = jax.tree.leaves(part.final_state), jax.tree.leaves(full.final_state)
    for a, b in zip(final, reference, strict=True):
        np.testing.assert_array_equal(a, b)
    only_m = nj.simulate(
        nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025, saveat=nj.SaveAt(vars=("m",))
    )
    assert only_m.states.v is None and only_m.states.m.shape == (n,)
    with pytest.raises(AttributeError, match="no voltage"):
        _ = only_m.v
    # any function of the state: here the total gating, one number per step
    fn = nj.simulate(
        nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025, saveat=nj.SaveAt(fn=lambda y: y.m + y.h)
    )
    np.testing.assert_allclose(fn.states, full.states.m + full.states.h, rtol=1e-6)
    # spikes kept compactly, or not at all
    small = nj.simulate(
        nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025, saveat=nj.SaveAt(spike_dtype=jnp.uint8)
    )
    assert small.spikes.dtype == jnp.uint8
    np.testing.assert_array_equal(small.spikes, full.spikes)
    none = nj.simulate(
        nj.HodgkinHuxley(), jnp.full(n, 10.0), dt=0.025, saveat=nj.SaveAt(spikes=False)
    )
    assert none.spikes is None


@pytest.fixture(scope="module")
def full_run():
    """A 400-step LIF population run with spikes (reference for the options below)."""
    return nj.simulate(nj.LIF(), _lif_inputs(), dt=DT)


def test_save_every(full_run):
    k = 8
    sol = nj.simulate(nj.LIF(), _lif_inputs(), dt=DT, saveat=nj.SaveAt(every=k))
    assert sol.v.shape == (400 // k, 3)
    np.testing.assert_array_equal(sol.v, full_run.v[k - 1 :: k])
    np.testing.assert_array_equal(sol.t, full_run.t[k - 1 :: k])
    # Spikes are counted per block of k steps, none lost.
    blocks = full_run.spikes.reshape(-1, k, 3).sum(axis=1)
    np.testing.assert_array_equal(sol.spikes, blocks)
    np.testing.assert_array_equal(sol.spikes.sum(0), full_run.spikes.sum(0))
    assert full_run.spikes.sum() >= 8  # 2 + 6 spikes in 40 ms


@pytest.mark.parametrize(
    "options",
    [
        (1, 100),  # 4 chunks
        (1, 150),  # 2 chunks and a 100-step tail
        (4, 10),  # chunks of 10 saved blocks of 4 steps
    ],
)
def test_checkpointing_leaves_values_unchanged(full_run, options):
    k, chunk = options
    sol = nj.simulate(
        nj.LIF(),
        _lif_inputs(),
        dt=DT,
        saveat=nj.SaveAt(every=k),
        adjoint=nj.CheckpointAdjoint(every=chunk),
    )
    # The same operations in the same order, only split into chunks: identical values
    # (XLA may fuse a chunked loop differently: 1 ulp allowed).
    np.testing.assert_allclose(sol.v, full_run.v[k - 1 :: k], rtol=2e-7)
    np.testing.assert_array_equal(sol.spikes.sum(0), full_run.spikes.sum(0))
    np.testing.assert_array_equal(sol.t, full_run.t[k - 1 :: k])
    final, reference = jax.tree.leaves(sol.final_state), jax.tree.leaves(full_run.final_state)
    for a, b in zip(final, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-7)


def test_final_state_continues_a_run(full_run):
    """Two halves, the second started from the first's final state and time, give the
    one run — including a refractory period that straddles the boundary."""
    inputs = _lif_inputs()
    half = 200
    first = nj.simulate(nj.LIF(), inputs[:half], dt=DT)
    second = nj.simulate(nj.LIF(), inputs[half:], dt=DT, state0=first.final_state, t0=first.t[-1])
    assert np.any(first.final_state.z.refractory > 0)  # the boundary is inside a hold
    np.testing.assert_allclose(jnp.concatenate([first.t, second.t]), full_run.t, rtol=1e-6)
    np.testing.assert_array_equal(jnp.concatenate([first.v, second.v]), full_run.v)
    np.testing.assert_array_equal(jnp.concatenate([first.spikes, second.spikes]), full_run.spikes)


def test_time_axis():
    """t[i] is the end of step (i + 1)·every: t0 + dt·every·(i + 1)."""
    sol = nj.simulate(nj.LIF(), jnp.zeros(60), dt=0.25, t0=5.0, saveat=nj.SaveAt(every=3))
    np.testing.assert_allclose(sol.t, 5.0 + 0.25 * 3 * np.arange(1, 21), rtol=1e-7)
    with jax.enable_x64(True):
        sol = nj.simulate(nj.LIF(), jnp.zeros(100_000), dt=0.01)
        assert sol.t.dtype == jnp.float64
        # From the step index, not accumulated: exact to float64 rounding at 1000 ms.
        assert float(sol.t[-1]) == pytest.approx(1000.0, abs=1e-12)


def test_stimulus_object_as_input():
    stim = nj.stimuli.Step(2.0, start=5.0, stop=25.0, duration=40.0)
    a = nj.simulate(nj.LIF(), stim, dt=DT)
    b = nj.simulate(nj.LIF(), stim.sample(DT), dt=DT)
    np.testing.assert_array_equal(a.v, b.v)
    assert a.v.shape == (400,) and a.spikes.sum() > 0


def test_progress_prints_to_stderr_only_when_asked(capfd):
    sol = nj.simulate(
        nj.LIF(),
        jnp.full(1000, 2.0),
        dt=DT,
        saveat=nj.SaveAt(every=2),
        progress_meter=nj.TextProgress(),
    )
    jax.block_until_ready(sol)
    jax.effects_barrier()  # wait for the host callbacks
    out, err = capfd.readouterr()
    assert out == ""
    assert "neurojax.simulate" in err and "100.0% (500/500)" in err
    assert err.count("%") <= 101  # at most ~100 updates, not one per step
    sol = nj.simulate(nj.LIF(), jnp.full(1000, 2.0), dt=DT, saveat=nj.SaveAt(every=2))
    jax.block_until_ready(sol)
    jax.effects_barrier()
    assert capfd.readouterr() == ("", "")


def test_float64(x64):
    """Everything runs in float64 when enabled, and agrees with float32 to float32
    precision."""
    inputs64 = _lif_inputs()
    sol64 = nj.simulate(nj.LIF(), inputs64, dt=DT)
    hh64 = nj.simulate(nj.HodgkinHuxley(), jnp.full(400, 10.0), dt=0.025)
    refractory = sol64.final_state.z.refractory
    for x in (sol64.t, sol64.v, sol64.spikes, refractory, hh64.v, hh64.states.m):
        assert x.dtype == jnp.float64
    with jax.enable_x64(False):
        sol32 = nj.simulate(nj.LIF(), _lif_inputs(), dt=DT)
        assert sol32.v.dtype == jnp.float32
    np.testing.assert_array_equal(sol64.spikes, sol32.spikes)
    # float32 rounding of V (~1e-5 mV) accumulated over a run (see test_lif.py).
    np.testing.assert_allclose(sol64.v, sol32.v, atol=1e-3)
