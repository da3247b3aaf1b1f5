"""The model contract carries coupled models and networks: implicit solvers on a stiff
coupled model (against the exact matrix exponential), solvers refusing what they cannot
integrate, discrete state that no solver touches, and a toy two-population network whose
delayed spikes arrive exactly `delay/dt` steps late under `jit`, `grad` and `vmap`."""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import neurojax as nj
from neurojax._model import parameter
from neurojax.neurons import LIFState, RefractoryState

# ------------------------------------------------------------- a stiff coupled model


class TwoCompartmentState(NamedTuple):
    v: jax.Array  # (2,) compartment potentials, mV relative to rest


class TwoCompartments(nj.AbstractModel):
    """Two passive compartments joined by a conductance `g_c` ≫ the leak `g_l` (a short,
    stiff piece of cable): `dv/dt = A v + I`, `A = [[−g_l − g_c, g_c], [g_c, −g_l − g_c]]`
    (per unit capacitance, 1/ms). Both potentials live in one leaf, so the model is
    `Coupled`: its Jacobian is not diagonal."""

    g_l: jax.Array = parameter(0.1)
    g_c: jax.Array = parameter(500.0)

    def init_state(self, batch_shape=()):
        return TwoCompartmentState(v=jnp.array([1.0, 0.0]))

    def matrix(self):
        g, c = self.g_l, self.g_c
        return jnp.array([[-g - c, c], [c, -g - c]])

    def vector_field(self, t, y, current):
        return TwoCompartmentState(v=self.matrix() @ y.v + current)

    def batch_shape(self, inputs):
        return ()


def _exact(t, g_l=0.1, g_c=500.0):
    a = np.array([[-g_l - g_c, g_c], [g_c, -g_l - g_c]])
    return scipy.linalg.expm(a * t) @ np.array([1.0, 0.0])


T_END = 2.0  # ms: the fast mode (rate 1000.1/ms) has long gone, the slow one (0.1/ms) not


def _run(solver, dt, **kw):
    n = round(T_END / dt)
    sol = nj.simulate(TwoCompartments(**kw), jnp.zeros(n), dt=dt, solver=solver)
    return np.asarray(sol.v[-1])


@pytest.mark.parametrize("solver", [nj.BackwardEuler(), nj.Rosenbrock2()], ids=type)
def test_l_stable_implicit_solvers_on_a_stiff_coupled_model(x64, solver):
    """At dt = 0.1 ms (|λ_fast|·dt = 100) backward Euler and ROS2 damp the fast mode and
    follow the slow one: error vs expm(A t)·v0 below 1e-3 (BE's first-order error in the
    slow mode at dt = 0.1 is ≈ ½·(λ dt)²/2·20 steps ≈ 5e-4)."""
    exact = _exact(T_END)
    np.testing.assert_allclose(_run(solver, 0.1), exact, atol=1e-3)


@pytest.mark.parametrize(
    "solver, order", [(nj.BackwardEuler(), 1), (nj.CrankNicolson(), 2), (nj.Rosenbrock2(), 2)]
)
def test_implicit_solvers_converge_with_their_order(x64, solver, order):
    """Once dt resolves the fast mode, halving dt divides the error by 2^order, and at the
    smallest step the error is below 1e-6."""
    exact = _exact(T_END)
    errors = [np.max(np.abs(_run(solver, dt) - exact)) for dt in (2e-4, 1e-4)]
    assert errors[0] / errors[1] == pytest.approx(2.0**order, rel=0.1)
    assert errors[1] < 1e-6


def test_crank_nicolson_stays_bounded_on_the_stiff_mode(x64):
    """CN is A-stable, not L-stable: at dt = 0.1 its fast mode alternates in sign with
    amplification (1 − 50)/(1 + 50) ≈ −0.96 per step — bounded and decaying, as documented,
    never exploding."""
    v = _run(nj.CrankNicolson(), 0.1)
    residual = (1 - 50.005) / (1 + 50.005)  # the fast mode's factor per step (|λ|·dt/2)
    slow = (1 - 0.005) / (1 + 0.005)
    expected_fast = 0.5 * residual**20
    expected = 0.5 * slow**20 * np.array([1, 1]) + expected_fast * np.array([1, -1])
    np.testing.assert_allclose(v, expected, rtol=1e-9)


@pytest.mark.parametrize("solver", [nj.ExponentialEuler(), nj.ExponentialRK2()], ids=type)
def test_exponential_solvers_refuse_a_coupled_model(solver):
    """Their per-leaf linear part would be a row sum of the Jacobian, and the coupling
    would be integrated explicitly (±3.7e39 here before): refused before tracing, naming
    the solvers that work."""
    with pytest.raises(TypeError) as info:
        nj.simulate(TwoCompartments(), jnp.zeros(20), dt=0.1, solver=solver)
    message = str(info.value)
    assert "cannot integrate TwoCompartments" in message
    assert "couple their own elements" in message
    assert "BackwardEuler" in message and "Rosenbrock2" in message


def test_explicit_solver_past_its_stability_limit_is_reported():
    """Euler at dt = 0.1 on the stiff mode (factor 1 − 100 per step) overflows: the run is
    reported with the variable and the time, not returned as inf/NaN."""
    with pytest.raises(FloatingPointError) as info:
        nj.simulate(TwoCompartments(), jnp.zeros(200), dt=0.1, solver=nj.Euler())
    message = str(info.value)
    assert "state variable .v became NaN or inf, first at t = " in message
    assert "smaller dt" in message
    sol = nj.simulate(TwoCompartments(), jnp.zeros(200), dt=0.1, solver=nj.Euler(), throw=False)
    assert not np.all(np.isfinite(sol.v))


# slow tier: a finite-difference validation (2 CPU-s); DenseSolve's forward path stays
# in the fast tier (the implicit solvers' order tests) and gradients through simulate in
# tests/test_adjoint.py
@pytest.mark.slow
def test_dense_solve_gradient_matches_finite_differences(x64):
    """The gradient through the implicit step's linear solve (a solve with the transpose)
    equals central differences in g_c and g_l."""

    def end(p):
        model = TwoCompartments(g_l=p[0], g_c=p[1])
        sol = nj.simulate(model, jnp.full(30, 0.5), dt=0.05, solver=nj.Rosenbrock2())
        return sol.v[-1, 0] + 2 * sol.v[-1, 1]

    p = jnp.array([1.0, 0.5])  # both derivatives ≥ 0.01, so FD rounding (~1e-10) is negligible
    g = jax.grad(end)(p)
    h = 1e-6
    fd = [(end(p.at[i].add(h)) - end(p.at[i].add(-h))) / (2 * h) for i in range(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_positive_feedback_faster_than_the_step_is_reported():
    """A coupled model with a mode growing at 30/ms (two compartments with a negative
    leak): at dt = 0.1 `I − dt·J = −2·I` reverses the step, and it would be meaningless —
    reported, naming a smaller dt; at dt = 0.01 it integrates (BE's factor 1/(1 − 0.3))."""
    model = TwoCompartments(g_l=-30.0, g_c=0.0)
    with pytest.raises(Exception, match=r"reverses or amplifies.*smaller dt"):
        nj.simulate(model, jnp.zeros(5), dt=0.1, solver=nj.BackwardEuler())
    sol = nj.simulate(model, jnp.zeros(5), dt=0.01, solver=nj.BackwardEuler())
    assert float(sol.v[-1, 0]) == pytest.approx(1.0 / (1 - 0.3) ** 5, rel=1e-5)


# ------------------------------------------------------------- a toy delayed network


class Buffer(NamedTuple):
    refractory: dict  # per population, the LIF refractory timers
    ring: jax.Array  # (delay_steps, n_post): input scheduled for the coming steps, mV


class DelayedPair(nj.AbstractModel):
    """Two LIF populations and one projection `pre → post` with weights `w` (mV jump per
    spike) and a conduction delay of `delay_steps` steps through a ring buffer in the
    discrete state. Inputs: `{"pre": (n_steps, n_pre), "post": (n_steps, n_post)}` nA."""

    pre: nj.LIF
    post: nj.LIF
    w: jax.Array  # (n_post, n_pre)
    delay_steps: int = eqx.field(static=True)
    structure = nj.Elementwise()  # coupling only through spike events

    def batch_shape(self, inputs):
        return ()

    def init_state(self, batch_shape=()):
        n_post, n_pre = self.w.shape
        return {"pre": self.pre.init_state((n_pre,)), "post": self.post.init_state((n_post,))}

    def init_discrete(self, batch_shape=()):
        n_post, n_pre = self.w.shape
        return Buffer(
            refractory={
                "pre": self.pre.init_discrete((n_pre,)),
                "post": self.post.init_discrete((n_post,)),
            },
            ring=jnp.zeros((self.delay_steps, n_post)),
        )

    def vector_field(self, t, y, inputs):
        return {
            "pre": self.pre.vector_field(t, y["pre"], inputs["pre"]),
            "post": self.post.vector_field(t, y["post"], inputs["post"]),
        }

    def event_step(self, info, y_old, y_new, z, inputs):
        pre, r_pre, s_pre = self.pre.event_step(
            info, y_old["pre"], y_new["pre"], z.refractory["pre"], inputs["pre"]
        )
        slot = info.index % self.delay_steps
        # what was scheduled delay_steps ago arrives now, then the slot takes new spikes
        post_v = y_new["post"].v + z.ring[slot]
        post, r_post, s_post = self.post.event_step(
            info, y_old["post"], LIFState(post_v), z.refractory["post"], inputs["post"]
        )
        ring = z.ring.at[slot].set(self.w @ s_pre)
        refractory = {"pre": r_pre, "post": r_post}
        return {"pre": pre, "post": post}, Buffer(refractory, ring), {"pre": s_pre, "post": s_post}


DT = 0.1
DELAY = 1.5  # ms → 15 steps


def _network(w):
    return DelayedPair(nj.LIF(), nj.LIF(v_th=100.0), w, delay_steps=round(DELAY / DT))


def _inputs(n_steps=120):
    # pre neuron 0 driven hard (first spike at a known step), neuron 1 silent
    pre = jnp.zeros((n_steps, 2)).at[:, 0].set(5.0)
    return {"pre": pre, "post": jnp.zeros((n_steps, 3))}


def test_delayed_spikes_arrive_exactly_delay_over_dt_steps_later():
    w = jnp.array([[2.0, 0.0], [0.0, 7.0], [0.5, 0.5]])
    sol = nj.simulate(_network(w), _inputs(), dt=DT, solver=nj.ExponentialEuler())
    spikes = np.asarray(sol.spikes["pre"][:, 0])
    k = int(np.argmax(spikes > 0))  # the step that emitted the first spike
    assert spikes[k] == 1 and spikes[:k].sum() == 0 and sol.spikes["pre"][:, 1].sum() == 0
    v_post = np.asarray(sol.states["post"].v)
    rest = float(nj.LIF().v_rest)
    d = round(DELAY / DT)
    # nothing arrives before step k + d; at step k + d each post neuron jumps by w[:, 0]
    np.testing.assert_array_equal(v_post[: k + d], rest)
    np.testing.assert_allclose(v_post[k + d], rest + np.asarray(w[:, 0]), rtol=1e-6)
    assert isinstance(sol.final_state.z, Buffer)  # discrete state: never integrated


def test_delays_under_jit_grad_and_vmap():
    """The same arrival under `jit`; `vmap` over weight matrices; and the gradient of a
    post voltage after the arrival w.r.t. the weight is the decay factor of the jump
    (exponential Euler is exact for the LIF: e^(−m·dt/τ) after m steps)."""
    d = round(DELAY / DT)

    def v_post(w):
        sol = nj.simulate(_network(w), _inputs(), dt=DT, solver=nj.ExponentialEuler())
        return sol.states["post"].v, sol.spikes["pre"][:, 0]

    w = jnp.array([[2.0, 0.0], [0.0, 7.0], [0.5, 0.5]])
    v_jit, s = jax.jit(v_post)(w)
    v_ref, _ = v_post(w)
    np.testing.assert_array_equal(v_jit, v_ref)
    k = int(np.argmax(np.asarray(s) > 0))
    ws = jnp.stack([w, 2 * w])
    v_many, _ = jax.vmap(v_post)(ws)
    rest = float(nj.LIF().v_rest)
    np.testing.assert_allclose(v_many[1, k + d] - rest, 2 * (v_ref[k + d] - rest), rtol=1e-5)
    m = 10
    g = jax.grad(lambda w: v_post(w)[0][k + d + m, 0])(w)
    np.testing.assert_allclose(g[0, 0], np.exp(-m * DT / 10.0), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(g)[1:], 0.0)  # other rows do not reach neuron 0


def test_random_drive_from_the_step_key():
    """A model that draws from `StepInfo.key` gets `fold_in(key, step)`: the same key gives
    the same run, another key another one, and no key is an error for it."""

    class Noisy(nj.AbstractModel):
        structure = nj.Elementwise()

        def init_state(self, batch_shape=()):
            return LIFState(v=jnp.zeros(batch_shape))

        def vector_field(self, t, y, current):
            return LIFState(v=-y.v)

        def event_step(self, info, y_old, y_new, z, current):
            kick = jax.random.normal(info.key, y_new.v.shape)
            return LIFState(y_new.v + kick), z, None

    a = nj.simulate(Noisy(), jnp.zeros((50, 4)), dt=0.1, key=jax.random.key(1))
    b = nj.simulate(Noisy(), jnp.zeros((50, 4)), dt=0.1, key=jax.random.key(1))
    c = nj.simulate(Noisy(), jnp.zeros((50, 4)), dt=0.1, key=jax.random.key(2))
    np.testing.assert_array_equal(a.v, b.v)
    assert not np.allclose(a.v, c.v)
    first = jax.random.normal(jax.random.fold_in(jax.random.key(1), 0), (4,))
    np.testing.assert_allclose(a.v[0], first, rtol=1e-6)  # v starts at 0 and decays by 0
    assert a.spikes is None


def test_discrete_state_is_not_integrated():
    """The LIF refractory timer is discrete: it is not part of the state solvers see."""
    y = nj.LIF().init_state((3,))
    assert set(y._fields) == {"v"}
    z = nj.LIF().init_discrete((3,))
    assert isinstance(z, RefractoryState)


OVERFLOW_MOD = """NEURON { SUFFIX ovf NONSPECIFIC_CURRENT i RANGE g }
PARAMETER { g = 0.001 (S/cm2) k = 1000 (/mV) }
ASSIGNED { v (mV) i (mA/cm2) }
STATE { m }
INITIAL { m = 0 }
BREAKPOINT { SOLVE s METHOD cnexp  i = g*m*(v + 70) }
DERIVATIVE s { m' = exp(k*(v + 100)) * (1 - m) }
"""


def test_nonfinite_in_the_first_step_names_rates_not_dt():
    """A rate exp(1000·(v + 100)) is inf from the start: the error said "Try a smaller dt"
    (the wrong culprit, session-9 probe). Bad within the first step, it now names the
    parameters, inputs and rates first; an instability that grows over many steps (the
    Euler test above) still names dt."""
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod

    cell = Cell(Morphology([Branch(20.0, 20.0, nseg=1)]), [(load_mod(OVERFLOW_MOD), None)])
    with pytest.raises(FloatingPointError) as info:
        nj.simulate(cell, jnp.zeros((8, 0)), dt=0.025)
    message = str(info.value)
    assert "first at t = 0.025 ms" in message and "within the first step" in message
    assert "exp() of a large argument" in message


def test_model_built_in_float32_simulated_under_x64_is_explained():
    """A cell whose NMODL parameter is a float32 array (built before x64 was on),
    simulated under x64: the step turns the float32 gates into float64, and JAX's
    "carry input and carry output must have equal types" (unreadable for a user) is
    re-raised saying what happened and how to cast the model. Cast as the message says,
    it runs."""
    import equinox as eqx
    import jax

    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod

    mech = load_mod(OVERFLOW_MOD, k=jnp.asarray([0.01], jnp.float32))
    cell = Cell(Morphology([Branch(20.0, 20.0, nseg=1)]), [(mech, None)])
    with jax.enable_x64(True):
        with pytest.raises(TypeError, match="mixes float32 and float64 arrays") as info:
            nj.simulate(cell, jnp.zeros((4, 0)), dt=0.025)
        assert "jax_enable_x64" in str(info.value)
        cast = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, cell)
        assert np.isfinite(np.asarray(nj.simulate(cast, jnp.zeros((4, 0)), dt=0.025).v)).all()
