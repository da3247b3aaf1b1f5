"""The point-neuron models beyond HH and LIF: the science (rest states against analytic
roots, rheobases and firing periods against closed forms and quadrature, spike times
against an event-driven scipy reference, bifurcation currents against the Jacobian), and
the contract every model keeps with `simulate` (shapes, solvers, jit/grad/vmap, dtypes).

Validation tests run in float64 (`jax.enable_x64`); the contract tests in the default
float32.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq, minimize_scalar

import neurojax as nj
from neurojax.channels import hh
from neurojax.neurons import (
    EIF,
    IZHIKEVICH2003,
    QIF,
    AdEx,
    FitzHughNagumo,
    Izhikevich,
    MorrisLecar,
    MorrisLecarState,
    ReducedHH,
)
from neurojax.surrogate import Triangle


def spike_times(sol, k=None) -> np.ndarray:
    """End-of-step times (ms) of the steps with a spike (neuron `k` of a population)."""
    s = np.asarray(sol.spikes if k is None else sol.spikes[:, k])
    return np.asarray(sol.t)[s > 0]


# ---------------------------------------------------------------------------------------
# The contract with simulate: one case per model, a suprathreshold drive, a parameter.
# ---------------------------------------------------------------------------------------

CASES = {
    # name: (factory, current, dt, n_steps, parameter to vary)
    "ReducedHH": (ReducedHH, 10.0, 0.025, 1600, "g_na"),
    "EIF": (EIF, 2.0, 0.1, 1000, "tau"),
    "AdEx": (lambda: AdEx.naud2008("adapting")[0], 0.5, 0.1, 1000, "v_t"),
    "Izhikevich": (Izhikevich, 10.0, 0.1, 1000, "b"),
    "QIF": (QIF, 1.0, 0.1, 1000, "tau"),
    "FitzHughNagumo": (FitzHughNagumo, 0.5, 0.1, 2000, "a"),
    "MorrisLecar": (MorrisLecar, 120.0, 0.1, 3000, "g_ca"),
}


def cases(*fast):
    """CASES, with those not named in `fast` in the slow tier: the fast tier takes every
    model through the contract once (all models run all solvers below, and each is
    differentiated by at least one fast test: jit/grad/vmap or finite differences); the
    slow tier runs the whole matrix."""
    return [c if c in fast else pytest.param(c, marks=pytest.mark.slow) for c in CASES]


def with_population(model, name, factors=(1.0, 1.1, 0.9)):
    value = getattr(model, name)
    return eqx.tree_at(lambda m: getattr(m, name), model, value * jnp.asarray(factors))


@pytest.mark.parametrize("case", CASES)
def test_solvers_and_population_shapes(case):
    """Every solver runs every model, for a population given by a (3,) parameter with
    inputs shaped (n, 3) and (n,); spikes are exactly 0/1 forward; all three solvers
    agree on the spike counts (they integrate the same ODE)."""
    factory, current, dt, n, name = CASES[case]
    model = with_population(factory(), name)
    counts = {}
    for solver, inputs in [
        (nj.ExponentialEuler(), jnp.full((n, 3), current)),
        (nj.RK4(), jnp.full((n,), current)),
        (nj.Euler(), jnp.full((n,), current)),
    ]:
        sol = nj.simulate(model, inputs, dt=dt, solver=solver)
        assert sol.v.shape == sol.spikes.shape == (n, 3)
        assert sol.v.dtype == jnp.float32
        for leaf in jax.tree_util.tree_leaves(sol.states):
            assert leaf.shape == (n, 3)
            assert np.all(np.isfinite(leaf))
        assert set(np.unique(np.asarray(sol.spikes))) <= {0.0, 1.0}
        counts[type(solver).__name__] = np.asarray(sol.spikes.sum(0))
    assert np.all(counts["ExponentialEuler"] >= 1), counts  # the drive is suprathreshold
    # Same ODE, three first/fourth-order schemes at a step well inside their stability
    # range: spike counts within 10 % (+1 for a spike at the end of the window).
    for name_, c in counts.items():
        assert np.all(np.abs(c - counts["RK4"]) <= 0.1 * counts["RK4"] + 1), (name_, counts)


@pytest.mark.parametrize("case", cases("EIF", "AdEx", "Izhikevich", "ReducedHH", "MorrisLecar"))
def test_jit_grad_vmap(case):
    """`jax.grad` of the spike count w.r.t. a parameter is finite and nonzero (through the
    surrogate), and `jax.vmap` over that parameter equals the population broadcast."""
    factory, current, dt, n, name = CASES[case]
    model = factory()
    inputs = jnp.full((n,), current)

    @jax.jit
    def count(p):
        m = eqx.tree_at(lambda m: getattr(m, name), model, p)
        return nj.simulate(m, inputs, dt=dt).spikes.sum()

    p0 = getattr(model, name)
    g = jax.grad(count)(p0)
    assert np.isfinite(g) and g != 0, g

    values = p0 * jnp.array([1.0, 1.1, 0.9])
    by_vmap = jax.vmap(
        lambda p: nj.simulate(eqx.tree_at(lambda m: getattr(m, name), model, p), inputs, dt=dt).v
    )(values)
    by_population = nj.simulate(with_population(model, name), inputs, dt=dt).v
    np.testing.assert_allclose(by_vmap.T, by_population, rtol=1e-5, atol=1e-4)  # float32 op order


@pytest.mark.parametrize("case", cases("QIF", "FitzHughNagumo"))
def test_gradient_matches_finite_differences(case):
    """Float64: the gradient of a smooth subthreshold loss (mean V over a weak, varying
    input; through the initial state where that is solved for) equals central finite
    differences, for every parameter of the model at once.

    With a compact surrogate (`Triangle`, zero derivative farther than 1 mV from
    threshold), so that this checks the exact derivative of the model. (With the default
    `FastSigmoid`, whose derivative has 1/x² tails, the jumps that go through the
    surrogate spike — AdEx's `w += b·spike`, Izhikevich's `u += d·spike` — add a small
    pseudo-gradient even far below threshold: ≈1 % and 0.5 % of d(mean V)/dp here. That
    is the surrogate method, not an error.) Euler steps: the derivative of the model is
    under test here, and Euler compiles fastest."""
    factory, _, dt, _, _ = CASES[case]
    weak = {"MorrisLecar": 5.0, "ReducedHH": 0.5, "FitzHughNagumo": 0.05}.get(case, 0.0)
    with jax.enable_x64(True):
        model = eqx.tree_at(lambda m: m.surrogate, factory(), Triangle(slope=1.0))
        if float(getattr(model, "t_ref", 1.0)) == 0.0:
            # on the boundary of its domain (t_ref >= 0) a central difference would step
            # outside it; below threshold t_ref does not act, so any valid value tests the same
            model = eqx.tree_at(lambda m: m.t_ref, model, jnp.asarray(1.0))
        params, static = eqx.partition(model, eqx.is_array)
        theta0, unravel = jax.flatten_util.ravel_pytree(
            jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), params)
        )
        inputs = weak + 0.1 * jnp.sin(jnp.arange(200) * dt / 3.0)

        def loss(theta):
            sol = nj.simulate(eqx.combine(unravel(theta), static), inputs, dt=dt, solver=nj.Euler())
            return sol.v.mean(), sol.spikes.sum()

        grad = jax.jit(jax.grad(lambda th: loss(th)[0]))(theta0)
        h = 1e-5 * jnp.maximum(jnp.abs(theta0), 1.0)
        shifts = jnp.diag(h)
        values, spikes = jax.jit(jax.vmap(loss))(
            jnp.concatenate([theta0 + shifts, theta0 - shifts])
        )
        assert float(spikes.sum()) == 0  # subthreshold: the loss is smooth
        n = theta0.size
        fd = (values[:n] - values[n:]) / (2 * h)
        # central differences in float64: truncation O(h²) ≈ 1e-10 relative, rounding
        # ≈ 1e-16/1e-5 = 1e-11: agreement to 1e-6 is a strict test
        names = [jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(params)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9, err_msg=f"{case}: {names}")


# ---------------------------------------------------------------------------------------
# ReducedHH
# ---------------------------------------------------------------------------------------


def hh_steady_state_current(v, h_plus_n=None):
    """Ionic current (µA/cm²) of HH at V with all gates at steady state; with `h_plus_n`,
    that of the reduction (m = m∞, h = h∞, n = h_plus_n − h∞). Float64 numpy."""
    with jax.enable_x64(True):
        v = jnp.asarray(v, jnp.float64)
        m = hh.steady_state(hh.alpha_m, hh.beta_m, v)
        h = hh.steady_state(hh.alpha_h, hh.beta_h, v)
        n = hh.steady_state(hh.alpha_n, hh.beta_n, v) if h_plus_n is None else h_plus_n - h
        i = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.3)
        return float(i)


def test_reduced_hh_rest():
    """The reduced model starts at, and stays at, the root of its steady-state current;
    that rest lies 1.48 mV above full HH's (h + n = 0.855 instead of 0.914 at rest); with
    h_plus_n = h∞ + n∞ at HH's rest the two rests coincide."""
    v_hh = brentq(hh_steady_state_current, -80, -50, xtol=1e-12)
    v_red = brentq(lambda v: hh_steady_state_current(v, 0.855), -80, -50, xtol=1e-12)
    with jax.enable_x64(True):
        model = ReducedHH()
        state = model.init_state(())
        assert float(state.v) == pytest.approx(v_red, abs=1e-9)  # Newton converged
        sol = nj.simulate(model, jnp.zeros(4000), dt=0.025)
        assert np.max(np.abs(np.asarray(sol.v) - v_red)) < 1e-9  # a fixed point
        assert float(sol.spikes.sum()) == 0
        # documented gap of the reduction (−63.50 vs −64.97 mV)
        assert v_red - v_hh == pytest.approx(1.476, abs=0.01)
        h_inf = hh.steady_state(hh.alpha_h, hh.beta_h, jnp.asarray(v_hh))
        n_inf = hh.steady_state(hh.alpha_n, hh.beta_n, jnp.asarray(v_hh))
        matched = ReducedHH(h_plus_n=h_inf + n_inf)
        assert float(matched.init_state(()).v) == pytest.approx(v_hh, abs=1e-9)


def test_reduced_hh_fires_like_hh():
    """A 10 µA/cm² step makes both the reduced model and full HH fire repetitively, at
    rates within 20 % of each other (the reduction is approximate: measured 80 vs 70 Hz),
    with full-size spikes; 0.5 µA/cm² (below the reduction's onset, ≈1.5) does not."""
    with jax.enable_x64(True):
        currents = jnp.array([0.5, 10.0])
        inputs = jnp.broadcast_to(currents, (12000, 2))  # 300 ms
        red = nj.simulate(ReducedHH(), inputs, dt=0.025)
        full = nj.simulate(nj.HodgkinHuxley(), inputs, dt=0.025)
        late = slice(4000, None)  # the last 200 ms
        rate_red = float(red.spikes[late, 1].sum()) / 0.2
        rate_full = float(full.spikes[late, 1].sum()) / 0.2
        assert rate_full > 50 and rate_red > 50, (rate_red, rate_full)
        assert rate_red == pytest.approx(rate_full, rel=0.2)
        assert float(red.v[late, 1].max()) > 30.0  # overshoot, as HH's ≈ +40 mV
        assert float(red.spikes[:, 0].sum()) == 0


# ---------------------------------------------------------------------------------------
# EIF and QIF: rest, rheobase, firing period
# ---------------------------------------------------------------------------------------


def eif_rhs(v, i):
    """τ dV/dt (mV) of the default EIF without cut-off, numpy float64."""
    v_rest, v_t, delta_t, r = -65.0, -50.0, 2.0, 10.0
    return -(v - v_rest) + delta_t * np.exp((v - v_t) / delta_t) + r * i


def test_eif_rest_and_rheobase():
    """Rest: the lower root of the EIF's τ dV/dt at I = 0. Rheobase: the analytic
    saddle-node current (v_t − v_rest − Δ_T)/R = 1.3 nA: 1 % below it V settles on the
    stable root and never fires in 500 ms; 1 % above it fires (bottleneck passage
    ≈ πτ√(2Δ_T/(R·ΔI)) ≈ 170 ms)."""
    m = EIF()
    i_rh = (-50.0 + 65.0 - 2.0) / 10.0
    assert float(m.rheobase) == pytest.approx(i_rh, rel=1e-6)
    with jax.enable_x64(True):
        model = EIF()
        currents = jnp.array([0.0, 0.99 * i_rh, 1.01 * i_rh])
        sol = nj.simulate(model, jnp.broadcast_to(currents, (5000, 3)), dt=0.1)
        counts = np.asarray(sol.spikes.sum(0))
        assert counts[0] == 0 and counts[1] == 0 and counts[2] >= 1, counts
        v_t = -50.0  # the stable root lies below v_t (where the saddle-node happens)
        for k in (0, 1):
            root = brentq(lambda v, i=float(currents[k]): eif_rhs(v, i), -80.0, v_t)
            # I = 0: relaxes at rate ≈ 1/τ, converged to 1e-9 mV after 500 ms; just below
            # the saddle-node the rate falls to ≈ √(2ΔI·R/Δ_T)/τ ≈ 0.016/ms → 1e-2 mV
            tol = 1e-9 if k == 0 else 1e-2
            assert float(sol.v[-1, k]) == pytest.approx(root, abs=tol), (k, root)


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_eif_period_against_quadrature(dt):
    """The EIF's interspike interval at 2 nA equals t_ref + ∫ τ dV / F(V) from v_reset to
    the cut-off (scipy quadrature), within 2·dt: the spike is registered at the end of the
    step in which V crosses (≤ dt late) and exponential Euler adds an O(dt) lag of its
    own (measured 0.6–1.3 dt)."""
    with jax.enable_x64(True):
        model = EIF()
        period = 2.0 + quad(lambda v: 10.0 / eif_rhs(v, 2.0), -65.0, -30.0, epsabs=1e-12)[0]
        isi = np.diff(spike_times(nj.simulate(model, jnp.full(round(200 / dt), 2.0), dt=dt)))
        assert len(isi) >= 5
        np.testing.assert_allclose(isi[1:], period, atol=2 * dt)


def test_qif_rest_rheobase_and_period():
    """QIF: rest is v_rest exactly; rheobase a0 (v_c − v_rest)²/(4R) = 0.5625 nA (no spike
    2 % below, spikes 2 % above); the period at 1 nA equals the closed form
    t_ref + τ/√(a0 c)·[arctan(√(a0/c)(v_th − V_m)) − arctan(√(a0/c)(v_reset − V_m))]
    within 2·dt (grid detection ≤ dt, plus the solver's O(dt) lag)."""
    with jax.enable_x64(True):
        model = QIF()
        i_rh = 0.1 * 15.0**2 / 40.0
        assert float(model.rheobase) == pytest.approx(i_rh, rel=1e-12)
        currents = jnp.array([0.0, 0.98 * i_rh, 1.02 * i_rh, 1.0])
        dt = 0.01
        sol = nj.simulate(model, jnp.broadcast_to(currents, (round(500 / dt), 4)), dt=dt)
        counts = np.asarray(sol.spikes.sum(0))
        assert counts[0] == 0 and counts[1] == 0 and counts[2] >= 1, counts
        assert np.max(np.abs(np.asarray(sol.v[:, 0]) + 65.0)) < 1e-12  # rest is exact
        c = 10.0 * (1.0 - i_rh)  # R (I − I_rh), mV
        v_m, a0, k = -57.5, 0.1, np.sqrt(0.1 / c)
        period = 2.0 + 10.0 / np.sqrt(a0 * c) * (np.arctan(k * 27.5) - np.arctan(k * -7.5))
        isi = np.diff(spike_times(sol, 3))
        assert len(isi) >= 10
        np.testing.assert_allclose(isi[1:], period, atol=2 * dt)
        del v_m


# ---------------------------------------------------------------------------------------
# Izhikevich
# ---------------------------------------------------------------------------------------


def izhikevich_reference(current, t_end, a=0.02, b=0.2, c=-65.0, d=8.0):
    """Spike times (ms) of the Izhikevich model by scipy DOP853 (rtol 1e-11) with the
    threshold v = 30 mV located as an event and the reset applied there."""

    def f(t, y):
        return [0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1] + current, a * (b * y[0] - y[1])]

    def peak(t, y):
        return y[0] - 30.0

    peak.terminal, peak.direction = True, 1
    t, y, out = 0.0, [-65.0, -65.0 * b], []
    while True:
        s = solve_ivp(f, (t, t_end), y, method="DOP853", events=peak, rtol=1e-11, atol=1e-11)
        if s.status != 1:
            return np.array(out)
        t = s.t_events[0][0]
        out.append(t)
        y = [c, s.y_events[0][0][1] + d]


def test_izhikevich_rest():
    """Regular spiking at I = 0 settles on the lower root of 0.04v² + (5 − b)v + 140 = 0
    (v = −70 mV, u = bv = −14)."""
    with jax.enable_x64(True):
        sol = nj.simulate(Izhikevich(), jnp.zeros(10000), dt=0.1)
        root = min(np.roots([0.04, 5.0 - 0.2, 140.0]).real)
        assert root == pytest.approx(-70.0)
        # slowest eigenvalue −0.027/ms: e^(−27) after 1 s
        assert float(sol.v[-1]) == pytest.approx(root, abs=1e-8)
        assert float(sol.states.u[-1]) == pytest.approx(0.2 * root, abs=1e-8)
        assert float(sol.spikes.sum()) == 0


@pytest.mark.parametrize("dt", [0.1, 0.05])
def test_izhikevich_regular_spiking_against_reference(dt):
    """RS neuron, I = 10: spike times of the default solver against the event-driven
    reference. Spike k may lag by up to 2·k·dt: each reset happens at the end of the step
    in which v crossed 30 mV (≤ dt late, and the lag is inherited by later spikes) plus
    exponential Euler's O(dt) error (measured ≤ 0.9·k·dt). The adapted steady ISI
    (44.81 ms, 22.3 Hz) matches within 2·dt."""
    ref = izhikevich_reference(10.0, 300.0)
    with jax.enable_x64(True):
        ts = spike_times(nj.simulate(Izhikevich(), jnp.full(round(300 / dt), 10.0), dt=dt))
    assert len(ts) == len(ref) == 8
    k = np.arange(1, len(ref) + 1)
    assert np.all(np.abs(ts - ref) <= 2 * k * dt), ts - ref
    assert np.diff(ref)[-1] == pytest.approx(44.81, abs=0.01)
    assert np.diff(ts)[-1] == pytest.approx(np.diff(ref)[-1], abs=2 * dt)
    # spike-frequency adaptation of the RS class: the first ISI is the shortest
    assert np.diff(ts)[0] < 0.6 * np.diff(ts)[-1]


def test_izhikevich_presets():
    assert Izhikevich.izhikevich2003("chattering").c == -50.0
    assert set(IZHIKEVICH2003) >= {"regular_spiking", "fast_spiking", "chattering"}
    with pytest.raises(ValueError, match="Did you mean 'fast_spiking'"):
        Izhikevich.izhikevich2003("fast_spikin")


# ---------------------------------------------------------------------------------------
# FitzHugh–Nagumo
# ---------------------------------------------------------------------------------------


def fhn_fixed_point(current, a=0.7, b=0.8):
    """The real root of v³/3 + (1/b − 1) v + a/b − I = 0 (numpy.roots), and w = (v + a)/b."""
    roots = np.roots([1 / 3, 0.0, 1 / b - 1, a / b - current])
    v = roots[np.abs(roots.imag) < 1e-12].real
    assert len(v) == 1  # b < 1: the cubic is monotonic
    return v[0], (v[0] + a) / b


def test_fhn_fixed_point_and_hopf():
    """Initial state = the cubic's root (v* = −1.1994); below the Hopf current
    I_H = v³/3 − v + (v + a)/b at v = −√(1 − b/τ) (where the Jacobian's trace vanishes,
    I_H = 0.3313) the model settles on the new fixed point, above it oscillates."""
    with jax.enable_x64(True):
        model = FitzHughNagumo()
        v0, w0 = fhn_fixed_point(0.0)
        state = model.init_state(())
        assert float(state.v) == pytest.approx(v0, abs=1e-12)
        assert float(state.w) == pytest.approx(w0, abs=1e-12)
        assert v0 == pytest.approx(-1.1994, abs=1e-4)
        v_h = -np.sqrt(1 - 0.8 / 12.5)
        i_h = v_h**3 / 3 - v_h + (v_h + 0.7) / 0.8
        assert i_h == pytest.approx(0.3313, abs=1e-4)
        currents = jnp.array([0.0, i_h - 0.05, i_h + 0.05])
        sol = nj.simulate(model, jnp.broadcast_to(currents, (20000, 3)), dt=0.1)
        late = slice(10000, None)
        late_spikes = np.asarray(sol.spikes[late].sum(0))
        assert late_spikes[0] == 0 and late_spikes[1] == 0 and late_spikes[2] >= 10
        for k in (0, 1):
            v, w = fhn_fixed_point(float(currents[k]))
            # a stable focus, decaying at rate ≥ 0.02 per unit time: converged after 2000
            assert float(sol.v[-1, k]) == pytest.approx(v, abs=1e-8)
            assert float(sol.states.w[-1, k]) == pytest.approx(w, abs=1e-8)
        assert np.ptp(np.asarray(sol.v[late, 2])) > 3.0  # relaxation oscillation, v ∈ ±2


# ---------------------------------------------------------------------------------------
# Morris–Lecar
# ---------------------------------------------------------------------------------------


def ml_steady_state_current(model, v):
    with jax.enable_x64(True):
        v = jnp.asarray(v, jnp.float64)
        return float(model.membrane_current(MorrisLecarState(v, model.w_inf(v))))


def test_morris_lecar_rest():
    """The initial state is the root of the steady-state I–V curve at I = 0 (Hopf set:
    −60.855 mV; SNLC set: −59.474 mV) and a fixed point of the simulation."""
    for onset in ("hopf", "snlc"):
        with jax.enable_x64(True):
            model = MorrisLecar.rinzel_ermentrout1998(onset)
            v_rest = brentq(lambda v, m=model: ml_steady_state_current(m, v), -80, -40, xtol=1e-12)
            state = model.init_state(())
            assert float(state.v) == pytest.approx(v_rest, abs=1e-9)
            assert float(state.w) == pytest.approx(float(model.w_inf(v_rest)), abs=1e-12)
            sol = nj.simulate(model, jnp.zeros(2000), dt=0.1)
            assert np.max(np.abs(np.asarray(sol.v) - v_rest)) < 1e-9
    assert MorrisLecar().phi == MorrisLecar.rinzel_ermentrout1998("hopf").phi
    with pytest.raises(ValueError, match="Did you mean 'snlc'"):
        MorrisLecar.rinzel_ermentrout1998("snic")


def test_morris_lecar_hopf_set_is_class_ii():
    """Hopf set: the fixed point loses stability where the Jacobian's trace crosses zero
    (I_H = 93.86 µA/cm²). 3 µA/cm² below it, a state 0.1 mV off the fixed point returns;
    3 above it, it grows into full-amplitude repetitive firing."""
    with jax.enable_x64(True):
        model = MorrisLecar()

        def trace(v):
            v = jnp.asarray(v, jnp.float64)
            i = model.membrane_current(MorrisLecarState(v, model.w_inf(v)))
            jac = jax.jacfwd(
                lambda x: jnp.stack(model.vector_field(0.0, MorrisLecarState(x[0], x[1]), i))
            )(jnp.stack([v, model.w_inf(v)]))
            return float(jnp.trace(jac))

        v_h = brentq(trace, -40.0, 0.0, xtol=1e-12)
        i_h = ml_steady_state_current(model, v_h)
        assert i_h == pytest.approx(93.86, abs=0.01)
        results = []
        for di in (-3.0, 3.0):
            i = i_h + di
            v0 = brentq(lambda v, i=i: ml_steady_state_current(model, v) - i, -80, 40)
            state0 = MorrisLecarState(jnp.asarray(v0 + 0.1), model.w_inf(jnp.asarray(v0)))
            sol = nj.simulate(model, jnp.full(20000, i), dt=0.1, state0=state0)
            results.append((len(spike_times(sol)), np.ptp(np.asarray(sol.v[-5000:]))))
        (n_below, ptp_below), (n_above, ptp_above) = results
        assert n_below == 0 and ptp_below < 1e-3  # a decaying focus
        assert n_above >= 10 and ptp_above > 60  # full-amplitude spikes


def test_morris_lecar_snlc_set_is_class_i():
    """SNLC set: firing starts at the fold of the steady-state I–V curve,
    I_SN = max I_ss(V) = 39.96 µA/cm² (Rinzel & Ermentrout 1998: ≈ 40), with arbitrarily
    low rates: the period scales like (I − I_SN)^(−1/2), so quadrupling I − I_SN about
    halves it (measured ratio 1.86; the time outside the bottleneck makes it < 2)."""
    with jax.enable_x64(True):
        model = MorrisLecar.rinzel_ermentrout1998("snlc")
        fold = minimize_scalar(
            lambda v: -ml_steady_state_current(model, v),
            bounds=(-50, 0),
            method="bounded",
            options=dict(xatol=1e-10),
        )
        i_sn = -fold.fun
        assert i_sn == pytest.approx(40.0, abs=0.1)
        currents = jnp.array([i_sn - 0.5, i_sn + 0.5, i_sn + 2.0])
        sol = nj.simulate(model, jnp.broadcast_to(currents, (40000, 3)), dt=0.1)
        assert float(sol.spikes[:, 0].sum()) == 0
        t_half, t_two = (np.diff(spike_times(sol, k))[-1] for k in (1, 2))
        assert t_half > 250.0  # < 4 Hz just above onset
        assert 1.75 < t_half / t_two < 2.0


# ---------------------------------------------------------------------------------------
# AdEx (patterns: tests/test_adex_naud.py)
# ---------------------------------------------------------------------------------------


def test_adex_defaults_are_brette_gerstner_2005():
    """Defaults converted from the paper: C = 281 pF, g_L = 30 nS → τ = 9.37 ms,
    R = 33.3 MΩ; a = 4 nS = 0.004 µS; b = 80.5 pA; and the conductance form
    C dV/dt (pA) equals C·(neurojax dV/dt) at arbitrary states."""
    m = AdEx()
    assert float(m.tau) == pytest.approx(281.0 / 30.0, rel=1e-6)
    assert float(m.r) == pytest.approx(1e3 / 30.0, rel=1e-6)
    with jax.enable_x64(True):
        m = AdEx()  # float64 parameters
        rng = np.random.default_rng(0)
        for v, w, i in rng.uniform([-80, -0.2, 0.0], [-45, 0.5, 1.0], size=(5, 3)):
            state = m.init_state(())._replace(v=jnp.asarray(v), w=jnp.asarray(w))
            dv = float(m.vector_field(0.0, state, jnp.asarray(i)).v)  # mV/ms
            dw = float(m.vector_field(0.0, state, jnp.asarray(i)).w)  # nA/ms
            # Brette & Gerstner (2005) eq. 1–2 in pF, nS, pA, mV, ms
            c_dv = -30 * (v + 70.6) + 30 * 2 * np.exp((v + 50.4) / 2) - 1e3 * w + 1e3 * i
            assert 281.0 * dv == pytest.approx(c_dv, rel=1e-9)  # pF·mV/ms = pA
            assert 144.0 * 1e3 * dw == pytest.approx(4 * (v + 70.6) - 1e3 * w, rel=1e-9)


def test_adex_gradient_reaches_b_through_the_spike():
    """w jumps by b·spike with the surrogate spike: d(mean w)/db is positive and finite."""
    model, current = AdEx.naud2008("adapting")

    def mean_w(b):
        m = eqx.tree_at(lambda m: m.b, model, b)
        return nj.simulate(m, jnp.full(1000, current), dt=0.1).states.w.mean()

    g = jax.grad(mean_w)(model.b)
    assert np.isfinite(g) and g > 0


def test_rest_state_has_exact_second_derivatives(x64):
    """A model starts at rest through `neurons._base.newton` (detached iterations, then
    Newton steps that carry the derivatives): the rest state's first AND second
    derivatives w.r.t. a parameter equal central differences of the first derivative
    (with a single carrying step the second derivative was silently 0 for
    FitzHugh–Nagumo's v_rest(a)). Float64, h = 1e-5: truncation ~1e-10 relative, rounding
    ~1e-16/1e-5 = 1e-11, so 1e-6 is strict."""
    cases = [
        (lambda a: FitzHughNagumo(a=a).init_state().v, 0.7),
        (lambda g: MorrisLecar(g_ca=g).init_state().v, 4.4),
    ]
    for rest, p in cases:
        first = jax.grad(rest)(p)
        second = jax.grad(jax.grad(rest))(p)
        h = 1e-5 * max(abs(p), 1.0)
        fd1 = (rest(p + h) - rest(p - h)) / (2 * h)
        fd2 = (jax.grad(rest)(p + h) - jax.grad(rest)(p - h)) / (2 * h)
        np.testing.assert_allclose(float(first), float(fd1), rtol=1e-6)
        np.testing.assert_allclose(float(second), float(fd2), rtol=1e-6, atol=1e-9)
        assert abs(float(second)) > 1e-3  # the case is not trivially zero
