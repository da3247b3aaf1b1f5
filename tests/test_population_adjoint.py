"""`PopulationAdjoint`: the LIF population's gradient by hand-written forward sensitivities
is the gradient of the shipped step (against `CheckpointAdjoint`'s autodiff, float64
rounding), matches central differences where the pathwise derivative is the derivative,
leaves forward runs unchanged, and refuses what it cannot differentiate. Fast tier: the
exactness of every parameter against autodiff (~5 s idle, two float64 gradients compiled)
and the refusals; the initial state, central differences, float32 and the forward run in
the slow tier (each compiles more gradients or runs, 3–9 s)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.neurons._integrate_and_fire import RefractoryState
from neurojax.neurons.lif import LIFState

PARAMS = ("tau", "v_rest", "v_reset", "v_th", "r", "t_ref")
N_STEPS = 300  # 30 ms at dt = 0.1: the spiking neurons below fire 2–4 times
DT = 0.1


def _model(n=12, spiking=True):
    # per-neuron resting potentials: from below rheobase (no spike) to ~4 spikes in 30 ms
    # (R·I = 17.6 mV: V settles at v_rest + 17.6, threshold −50 mV)
    low, top = (-66.0, -52.0) if spiking else (-80.0, -70.0)
    return nj.LIF(v_rest=jnp.linspace(low, top, n), tau=9.0, r=11.0, t_ref=1.5)


def _run(model, adjoint, state0=None, inputs=None, every=10):
    x = jnp.full((N_STEPS,), 1.6) if inputs is None else inputs
    return nj.simulate(
        model, x, dt=DT, saveat=nj.SaveAt(every=every), adjoint=adjoint, state0=state0
    )


def _loss(model, adjoint, state0=None, weights=(1.0, 0.3, 0.1, 0.2), inputs=None):
    """Every output that can carry a derivative: saved V, spike counts (surrogate), final
    V and final refractory timer."""
    sol = _run(model, adjoint, state0, inputs)
    w = weights
    return (
        w[0] * jnp.mean(sol.states.v**2)
        + w[1] * jnp.sum(sol.spikes)
        + w[2] * jnp.sum(sol.final_state.y.v)
        + w[3] * jnp.sum(sol.final_state.z.refractory)
    )


def _assert_close(got, want, rtol, what):
    got, want = np.asarray(got), np.asarray(want)
    scale = np.max(np.abs(want))
    assert scale > 0, f"{what}: the reference gradient is zero (a test that cannot fail)"
    err = np.max(np.abs(got - want)) / scale
    assert err <= rtol, f"{what}: {err:.3g} of the largest entry (tolerance {rtol})"


# float64 rounding of 300 steps of a few operations, through up to 4 resets: measured
# ≤ 4e-14 of the largest entry (the two methods sum the same terms in another order)
EXACT = 1e-11


@pytest.mark.parametrize(
    "weights", [(1.0, 0.3, 0.1, 0.2), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)],
    ids=["all-outputs", "spikes-only", "refractory-only"],
)  # fmt: skip
def test_every_parameter_matches_autodiff(x64, weights):
    m = _model()
    ref = jax.grad(_loss)(m, nj.CheckpointAdjoint(), weights=weights)
    got = jax.grad(_loss)(m, nj.PopulationAdjoint(), weights=weights)
    nonzero = 0
    for k in PARAMS:
        want = np.asarray(getattr(ref, k))
        if np.all(want == 0):  # e.g. t_ref moves only the refractory timer
            np.testing.assert_array_equal(np.asarray(getattr(got, k)), want, err_msg=k)
            continue
        nonzero += 1
        _assert_close(getattr(got, k), want, EXACT, k)
    assert nonzero >= (1 if weights[3] else 5)


@pytest.mark.slow  # 3–6 s: two more gradients compiled
def test_initial_state_and_scalar_parameters(x64):
    """Gradients w.r.t. V₀ and the refractory timer's start, and a scalar parameter read
    by every neuron (its gradient the sum over neurons), with per-neuron inputs."""
    n = 8
    m = nj.LIF(v_rest=-60.0, tau=jnp.linspace(8.0, 12.0, n))
    x = jnp.linspace(1.2, 2.2, n)[None, :] * jnp.ones((N_STEPS, 1))
    s0 = nj.ModelState(
        LIFState(v=jnp.linspace(-70.0, -51.0, n)),
        RefractoryState(jnp.where(jnp.arange(n) % 3 == 0, 1.0, 0.0)),
    )

    def loss(m, s0, adjoint):
        return _loss(m, adjoint, s0, inputs=x)

    ref = jax.grad(loss, argnums=(0, 1))(m, s0, nj.CheckpointAdjoint())
    got = jax.grad(loss, argnums=(0, 1))(m, s0, nj.PopulationAdjoint())
    for k in ("tau", "v_rest", "v_th", "r"):
        assert np.shape(getattr(got[0], k)) == np.shape(getattr(m, k))
        _assert_close(getattr(got[0], k), getattr(ref[0], k), EXACT, k)
    _assert_close(got[1].y.v, ref[1].y.v, EXACT, "V0")
    # the timer's start is forgotten after 1 ms (max(·, 0)): zero, for both
    np.testing.assert_array_equal(np.asarray(got[1].z.refractory), np.asarray(ref[1].z.refractory))


@pytest.mark.slow  # 4–9 s: a gradient and 12 runs
def test_central_differences(x64):
    """Below threshold the run is smooth: every parameter and V₀ against central
    differences. h = 1e-5 of the value: truncation ~h² (1e-10 relative) and rounding
    ~eps/h (2e-11); 1e-7 leaves room for both."""
    m = _model(n=6, spiking=False)

    def loss(m):
        return jnp.mean(_run(m, nj.PopulationAdjoint()).states.v ** 2)

    assert float(jnp.max(_run(m, nj.CheckpointAdjoint()).spikes)) == 0.0
    g = jax.grad(loss)(m)
    for k in ("tau", "v_rest", "r"):
        value = np.asarray(getattr(m, k), np.float64)
        flat = value.ravel()
        for i in (0, flat.size - 1):
            h = 1e-5 * max(abs(flat[i]), 1.0)
            plus, minus = flat.copy(), flat.copy()
            plus[i] += h
            minus[i] -= h

            def at(v, k=k, value=value):
                return float(loss(eqx_set(m, k, jnp.asarray(v.reshape(value.shape)))))

            fd = (at(plus) - at(minus)) / (2 * h)
            np.testing.assert_allclose(np.asarray(getattr(g, k)).ravel()[i], fd, rtol=1e-7)


def eqx_set(m, name, value):
    import equinox as eqx

    return eqx.tree_at(lambda mm: getattr(mm, name), m, value)


@pytest.mark.slow  # 3–6 s: two more gradients compiled
def test_float32_agrees_with_float64():
    """Float32 below threshold: both adjoints within float32 rounding of the float64
    gradient (300 steps; measured ≤ 2e-6 relative, tolerance 1e-4)."""
    m32 = _model(n=6, spiking=False)

    def loss(m, adjoint):
        return jnp.mean(_run(m, adjoint).states.v ** 2)

    with jax.enable_x64(True):
        m64 = _model(n=6, spiking=False)
        ref = jax.grad(loss)(m64, nj.CheckpointAdjoint())
    for adjoint in (nj.PopulationAdjoint(), nj.CheckpointAdjoint()):
        g = jax.grad(loss)(m32, adjoint)
        for k in ("tau", "v_rest", "r"):
            assert getattr(g, k).dtype == jnp.float32
            _assert_close(getattr(g, k), getattr(ref, k), 1e-4, f"{k} float32")


@pytest.mark.slow  # 3 s: two forward runs and a gradient compiled
def test_forward_run_unchanged():
    """Not differentiated, the run is the ordinary forward run, bit for bit; the
    differentiated run's outputs are the same values too."""
    m = _model()
    a = _run(m, nj.PopulationAdjoint())
    b = _run(m, nj.CheckpointAdjoint())
    np.testing.assert_array_equal(np.asarray(a.states.v), np.asarray(b.states.v))
    np.testing.assert_array_equal(np.asarray(a.spikes), np.asarray(b.spikes))
    value = jax.value_and_grad(_loss)(m, nj.PopulationAdjoint())[0]
    assert float(value) == float(_loss(m, nj.CheckpointAdjoint()))


def test_refusals():
    hh = nj.HodgkinHuxley()
    with pytest.raises(ValueError, match="CheckpointAdjoint"):
        jax.grad(lambda m: jnp.sum(nj.simulate(m, jnp.ones(20), dt=0.025,
                 adjoint=nj.PopulationAdjoint()).v))(hh)  # fmt: skip
    m = _model(n=3)
    with pytest.raises(ValueError, match="ExponentialEuler"):
        jax.grad(lambda m: jnp.sum(nj.simulate(m, jnp.ones(20), dt=DT, solver=nj.Euler(),
                 adjoint=nj.PopulationAdjoint()).v))(m)  # fmt: skip
    with pytest.raises(ValueError, match="inputs"):
        jax.grad(lambda x: jnp.sum(nj.simulate(m, x, dt=DT, adjoint=nj.PopulationAdjoint()).v))(
            jnp.ones(20)
        )
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda t: jnp.sum(nj.simulate(eqx_set(m, "tau", t), jnp.ones(20), dt=DT,
                adjoint=nj.PopulationAdjoint()).v), (m.tau,), (m.tau,))  # fmt: skip


def test_refused_under_grad_of_jit_too():
    """The model check runs whether or not the trace is differentiated: under
    `jax.grad(jax.jit(f))` the inner trace is not, and a HodgkinHuxley run was accepted
    there by the ordinary loop (session-15 review)."""
    hh = nj.HodgkinHuxley()

    def loss(g):
        m = eqx.tree_at(lambda m: m.g_na, hh, g)
        return nj.simulate(
            m, jnp.full((20, 1), 10.0), dt=0.025, adjoint=nj.PopulationAdjoint()
        ).v.sum()

    with pytest.raises(ValueError, match="CheckpointAdjoint"):
        jax.grad(jax.jit(loss))(120.0)


def test_saveat_vars_as_the_ordinary_loop(x64):
    """`SaveAt(vars=())` keeps no V in a differentiated run either (the ordinary loop's
    rule; the hand-written loop returned V regardless, session-15 review), and the
    gradient through the final state is the same as `CheckpointAdjoint()`'s (float64
    rounding: 1e-12 relative)."""
    m = nj.LIF(v_rest=jnp.linspace(-66.0, -62.0, 4), tau=9.0, r=11.0, t_ref=1.5)
    x = jnp.full((40,), 1.6)
    seen = []

    def loss(tau, adjoint):
        sol = nj.simulate(eqx.tree_at(lambda m: m.tau, m, tau), x, dt=DT,
                          saveat=nj.SaveAt(vars=()), adjoint=adjoint)  # fmt: skip
        seen.append(sol.states.v)
        return jnp.sum(sol.final_state.y.v)

    g = jax.grad(loss)(jnp.asarray(9.0), nj.PopulationAdjoint())
    assert seen[-1] is None
    ref = jax.grad(loss)(jnp.asarray(9.0), nj.CheckpointAdjoint())
    np.testing.assert_allclose(g, ref, rtol=1e-12)
    assert float(ref) != 0.0
