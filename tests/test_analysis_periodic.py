"""Periodic orbits by shooting (neurojax.analysis._periodic): cycles, Floquet multipliers,
continuation of cycles and their folds, and derivatives of the period and of a fold's
location by the implicit function theorem — checked against simulations (scipy and the
sweeps of `limit_cycles`), published values and finite differences."""

from typing import NamedTuple

import equinox as eqx
import jax
import numpy as np
import pytest
from analysis_references import reduced_hh_numpy
from jaxtyping import Array
from scipy.integrate import solve_ivp

import neurojax as nj
import neurojax.analysis as na
from neurojax._model import parameter
from neurojax.analysis._periodic import (
    CANARD_END,
    continue_cycle,
    cycle_period,
    find_cycle,
    fold_of_cycles,
)
from neurojax.analysis._system import float64, make_system
from neurojax.neurons import AbstractNeuron


class BautinState(NamedTuple):
    v: Array
    w: Array


class Bautin(AbstractNeuron):
    """The Bautin normal form in polar form `dr/dt = r·g(r²)`, `g = I + σr² − r⁴`,
    `dθ/dt = ω`: a subcritical Hopf point at I = 0 (σ > 0) whose unstable cycles turn
    back at a fold of cycles at `I = −σ²/4`, `r² = σ/2`, into the stable ones. Every cycle
    is a circle of radius `r` with period `2π/ω`; its nontrivial Floquet multiplier is
    `exp(2π/ω · 2r²·g′(r²))`, `g′ = σ − 2r²`. A polynomial field: the shooting compiles
    in a fraction of HH's time, so the fast tier checks cycles against closed forms here."""

    omega: Array = parameter(2.0)
    sigma: Array = parameter(1.0)

    def init_state(self, batch_shape=()):
        return BautinState(self.full(0.0, batch_shape), self.full(0.0, batch_shape))

    def vector_field(self, t, state, current):
        v, w = state
        r2 = v**2 + w**2
        g = current + self.sigma * r2 - r2**2
        return BautinState(g * v - self.omega * w, self.omega * v + g * w)


@pytest.fixture(scope="module")
def bautin_branch():
    """The Bautin model (float64 parameters), its Hopf point and the cycles continued from
    it through the fold of cycles to the stable side, until they leave I ∈ [−1, 1]."""
    with jax.enable_x64(True):
        model = Bautin()
        (hopf,) = na.continuation(model, -1.0, 1.0).hopfs
        branch = continue_cycle(model, hopf, -1.0, bounds=(-1.0, 1.0), max_points=40)
        return model, hopf, branch


def test_bautin_cycles_fold_and_multipliers_match_the_closed_form(bautin_branch):
    """The cycles born at the subcritical Hopf point (l₁ > 0) are unstable, turn at the
    fold of cycles I = −σ²/4 = −0.25, and come back stable: radius, period and Floquet
    multiplier of every cycle as the closed forms say."""
    _, hopf, branch = bautin_branch
    assert abs(hopf.parameter) < 1e-10 and hopf.criticality == "subcritical"
    # l₁ = 2σ/ω (Kuznetsov 2004, eq. 3.20: the cubic term only; the quintic one does not
    # enter), from nested JVPs in float64: rounding
    assert hopf.lyapunov == pytest.approx(2 * 1.0 / 2.0, rel=1e-9)
    assert hopf.omega == pytest.approx(2.0, rel=1e-10)
    assert branch.end == "left bounds"
    (fold,) = branch.folds
    # RK4 on the adapted mesh: endpoint error < 1e-8 relative (`RK_TOL`), which moves the
    # discrete fold by as much; measured −0.249999996
    assert fold.parameter == pytest.approx(-0.25, abs=1e-7)
    r2 = ((branch.v_max - branch.v_min) / 2) ** 2  # circles centred on the origin
    p = branch.parameter
    np.testing.assert_allclose(p + r2 - r2**2, 0.0, atol=1e-7)  # g(r²) = 0 on every cycle
    # 2π/ω to RK4's phase error on the adapted mesh (`RK_TOL` = 1e-8; measured 3e-9)
    np.testing.assert_allclose(branch.period, np.pi, rtol=1e-8)
    mu = np.exp(np.pi * 2 * r2 * (1.0 - 2 * r2))
    # the multiplier from the monodromy matrix: RK4's 1e-8 relative error on the flow's
    # derivative too (a few 1e-8 measured near the fold)
    np.testing.assert_allclose(np.abs(branch.multipliers[:, 1]), mu, rtol=1e-6)
    assert list(branch.stable) == list(r2 > 0.5)  # unstable inside the fold's r² = σ/2


def test_bautin_supercritical_hopf():
    """σ < 0: a supercritical Hopf point, l₁ = 2σ/ω (the same model class: nothing compiles)."""
    with jax.enable_x64(True):
        (hopf,) = na.continuation(Bautin(sigma=-0.5), -1.0, 1.0).hopfs
    assert abs(hopf.parameter) < 1e-10 and hopf.criticality == "supercritical"
    assert hopf.lyapunov == pytest.approx(2 * -0.5 / 2.0, rel=1e-9)


# slow tier: the minimally extended fold system (second derivatives through a period)
# compiles for ~8 s; the fast tier keeps fold_of_cycles' checks (x64 below, the model in
# test_analysis_contract), the fold located by continuation (above) and the
# implicit-function derivative of cycle_period (below)
@pytest.mark.slow
def test_bautin_fold_of_cycles_and_its_derivative(bautin_branch):
    """`fold_of_cycles` and its gradient: I_fold = −σ²/4, dI_fold/dσ = −σ/2 = −0.5."""
    model, _, branch = bautin_branch
    (fold,) = branch.folds
    with jax.enable_x64(True):
        at = float(fold_of_cycles(model, fold))
        grad = jax.grad(lambda m: fold_of_cycles(m, fold))(model)
    assert at == pytest.approx(-0.25, abs=1e-7)  # RK4's 1e-8 relative, as above
    # the implicit-function derivative through the same discrete flow: measured 1.5e-8 off
    assert float(grad.sigma) == pytest.approx(-0.5, rel=1e-6)
    assert abs(float(grad.omega)) < 1e-6  # the fold does not depend on the rotation


def test_bautin_find_cycle_and_period_derivative():
    """`find_cycle` from a guess with a period (Newton only) at I = 0.5: the stable circle
    r² = (σ + √(σ² + 4I))/2; `cycle_period` and its gradient: T = 2π/ω, dT/dω = −2π/ω²,
    dT/dσ = 0."""
    with jax.enable_x64(True):
        model = Bautin()
        orbit = find_cycle(model, 0.5, guess=np.array([1.0, 0.0]), period=3.0)
        period = float(cycle_period(model, orbit))
        grad = jax.grad(lambda m: cycle_period(m, orbit))(model)
    r2 = (1.0 + np.sqrt(3.0)) / 2
    assert orbit.stable and orbit.v_max == pytest.approx(np.sqrt(r2), rel=1e-8)  # RK4 1e-8
    assert period == pytest.approx(np.pi, rel=1e-8)  # RK4's phase error (`RK_TOL`)
    assert float(grad.omega) == pytest.approx(-np.pi / 2, rel=1e-7)
    assert abs(float(grad.sigma)) < 1e-7


def _hh():
    return nj.HodgkinHuxley(e_l=-54.387)  # NEURON's hh: rest at -65 mV


# The expensive objects are computed once per module and shared (each test still checks
# everything it did on its own; the shooting code compiles once per model).


# The model is built under `jax.enable_x64` (float64 parameters), so that the derivative
# tests below, which perturb it by 1e-3, differentiate the very model the cycles are of.


@pytest.fixture(scope="module")
def hh_cycle_20():
    """HH (float64 parameters) and its stable cycle at I = 20 µA/cm², found from a
    simulation from rest."""
    with jax.enable_x64(True):
        hh = _hh()
        return hh, find_cycle(hh, 20.0)


@pytest.fixture(scope="module")
def hh_fold_branch():
    """HH (float64 parameters), its stable cycle at 6.4 µA/cm² (reached by simulation from
    the firing state at 10) and its continuation down through the fold of cycles, bounded
    to [5, 6.4]."""
    with jax.enable_x64(True):
        hh = _hh()
        above = find_cycle(hh, 10.0)  # above the Hopf point (9.78) rest is unstable: fires
        start = find_cycle(hh, 6.4, guess=above.state)  # the stable cycle at 6.4, simulated
        branch = continue_cycle(hh, start, 5.0, bounds=(5.0, 6.4), max_step=1.0)
        return hh, start, branch


@pytest.mark.slow  # validation against scipy's integrator
def test_hh_floquet_multipliers_and_period_against_scipy(hh_cycle_20):
    """A stable HH cycle (I = 20 µA/cm²): the trivial multiplier is 1 (to 1e-6), the others
    are inside the unit circle, and scipy's DOP853 integration from the orbit's point over
    one period comes back to it."""
    hh, orbit = hh_cycle_20
    assert orbit.stable
    # 1e-6: the RK4 endpoint error (< 1e-8 relative, `RK_TOL`) bounds the error of the
    # discrete flow's derivative along the orbit; measured |μ₀ − 1| = 1.8e-9
    assert abs(orbit.multipliers[0] - 1.0) < 1e-6
    assert np.all(np.abs(orbit.multipliers[1:]) < 1.0)
    assert 0.05 < abs(orbit.multipliers[1]) < 0.2  # measured 0.110: strongly attracting
    with float64():
        system = make_system(hh, current=20.0)
        f = jax.jit(lambda x: system.f(x, 20.0))
        sol = solve_ivp(
            lambda t, x: np.asarray(f(x)),
            (0.0, orbit.period),
            orbit.state,
            method="DOP853",
            rtol=1e-11,
            atol=1e-11,
        )
    # 1e-5 mV / gate units: scipy's tolerance 1e-11 amplified by the transient growth
    # along one period; the shooting's own error is ~1e-8
    np.testing.assert_allclose(sol.y[:, -1], orbit.state, atol=1e-5)
    # the V maximum is phase 0, and the orbit's range is scipy's
    assert np.isclose(orbit.v_max, sol.y[0].max(), atol=1e-4)
    assert np.isclose(orbit.v_min, sol.y[0].min(), atol=0.05)  # scipy's output sampling


# slow tier: validation against a simulated hysteresis sweep; the fast tier keeps the Hopf-born
# cycle
@pytest.mark.slow
def test_hh_fold_of_cycles_against_hysteresis_sweep(hh_fold_branch):
    """Full HH: the stable cycle, followed down in current, meets the unstable one at the
    fold of limit cycles I ≈ 6.26 µA/cm² (Rinzel & Miller 1980), where firing that came
    from above stops; a fine down-sweep of simulations agrees."""
    _, start, branch = hh_fold_branch
    # the sweep below simulates the default-precision model (float32 parameters, ~1e-7
    # relative from the fixture's): it moves the fold by ~1e-6 µA/cm², far inside the
    # 0.03 µA/cm² between the fold and the nearest swept current
    hh = _hh()
    (fold,) = branch.folds
    assert branch.end == "left bounds"  # turned at the fold and came back up unstable
    # 0.01: the required accuracy; Rinzel & Miller's value 6.26 (2 decimals)
    assert abs(fold.parameter - 6.26) < 0.01
    i = int(np.argmin(branch.parameter))
    assert branch.stable[: i - 1].all() and not branch.stable[i + 2 :].any()
    # at the fold a nontrivial multiplier is 1: 1e-2 from locating the branch's turning
    # point to |Δθ| < 1e-10 along a chord (the multiplier moves like sqrt(p − p_fold))
    assert abs(abs(fold.multipliers[1]) - 1.0) < 1e-2
    # the hysteresis sweep: simulations stepped down from the firing state
    values = np.array([6.20, 6.23, 6.29, 6.32])
    lc = na.limit_cycles(
        hh, values, sweep=na.Sweep.DOWN, down_state0=start.state, transient=400.0, window=60.0
    )
    np.testing.assert_array_equal(lc.down.oscillating, values > fold.parameter)


# slow tier: HH's shooting programs compile for ~10 s; the fast tier keeps the cycles born at
# the Bautin normal form's subcritical Hopf point (closed forms)
@pytest.mark.slow
def test_hh_cycle_born_at_the_subcritical_hopf_point():
    """The branch from HH's Hopf point at 9.7754 µA/cm²: its first cycle has the Hopf
    period 2π/ω and lies below the Hopf current (subcritical), unstable."""
    hh = _hh()
    (hopf,) = [h for h in na.continuation(hh, 0.0, 20.0).hopfs]
    branch = continue_cycle(hh, hopf, 20.0, max_points=6)
    # the first cycle has V amplitude ~0.1 mV: period within 1e-3 of the linear one
    assert abs(branch.period[0] - hopf.period) < 1e-3 * hopf.period
    assert np.all(branch.parameter < hopf.parameter)  # subcritical: below the Hopf point
    assert not branch.stable.any()
    assert np.all(np.diff(branch.v_max - branch.v_min) > 0)  # growing away from the Hopf


@pytest.mark.slow  # finite-difference validation of period derivatives
def test_period_derivatives_match_finite_differences(hh_cycle_20):
    """dT/dg_K and dT/dI by the implicit function theorem (`cycle_period` under
    `jax.grad`) against central differences of converged cycles."""
    with jax.enable_x64(True):
        hh, orbit = hh_cycle_20
        grad = jax.grad(lambda m: cycle_period(m, orbit))(hh)
        d_current = jax.grad(lambda i: cycle_period(hh, orbit, current=i))(20.0)
        eps = 1e-3

        def period(model, current):
            return find_cycle(model, current, guess=orbit.state, period=orbit.period).period

        g_k = lambda d: eqx.tree_at(lambda m: m.g_k, hh, hh.g_k + d)  # noqa: E731
        fd_gk = (period(g_k(eps), 20.0) - period(g_k(-eps), 20.0)) / (2 * eps)
        fd_i = (period(hh, 20.0 + eps) - period(hh, 20.0 - eps)) / (2 * eps)
    assert abs(float(cycle_period(hh, orbit)) - orbit.period) < 1e-9
    # 1e-6 relative: central differences' O(eps²) error (T'' ~ 1 ms per unit²) plus the
    # Newton tolerance 1e-11 over 2·eps; measured agreement ~1e-9
    np.testing.assert_allclose(float(grad.g_k), fd_gk, rtol=1e-6)
    np.testing.assert_allclose(float(d_current), fd_i, rtol=1e-6)
    assert fd_gk > 0 and fd_i < 0  # more K⁺ slows firing, more current speeds it up


# slow tier: three solves of the minimally extended fold system with second derivatives
# through a period (80 s measured on the shared 2-core machine, 23 s with the
# multiple-shooting corrector); fold location stays in the fast tier via the
# hysteresis-sweep test
@pytest.mark.slow
def test_fold_of_cycles_is_differentiable(hh_fold_branch):
    """The fold of cycles' current as a function of g_K: `fold_of_cycles` under
    `jax.grad` against central differences of refolded points."""
    with jax.enable_x64(True):
        hh, _, branch = hh_fold_branch
        (fold,) = branch.folds
        at = float(fold_of_cycles(hh, fold))
        grad = jax.grad(lambda m: fold_of_cycles(m, fold))(hh)
        eps = 1e-3
        shifted = [
            float(fold_of_cycles(eqx.tree_at(lambda m: m.g_k, hh, hh.g_k + d), fold))
            for d in (eps, -eps)
        ]
    # the extended system's fold and the branch's turning point: 1e-6 (chord location)
    assert abs(at - fold.parameter) < 1e-6
    fd = (shifted[0] - shifted[1]) / (2 * eps)
    np.testing.assert_allclose(float(grad.g_k), fd, rtol=1e-5)  # O(eps²) + Newton 1e-10


def _fires(model, current, y0, t_end=300.0):
    sol = solve_ivp(
        reduced_hh_numpy(model, current),
        (0, t_end),
        y0,
        method="LSODA",
        rtol=1e-9,
        atol=1e-9,
        max_step=0.5,
    )
    return np.ptp(sol.y[0, sol.t > t_end - 100.0]) > 50.0


# slow tier: two continuations plus four long scipy LSODA runs at rtol 1e-9 (148 s measured,
# 41 s with the multiple-shooting corrector); the fast tier keeps HH's fold of cycles
@pytest.mark.slow
def test_reduced_hh_folds_of_cycles_against_simulations():
    """Reduced HH: firing starts and stops through folds of cycles while rest stays stable.
    Both ends of the firing branch are found by continuation, and long scipy simulations
    from the cycle fire on the near side of each fold and settle on the far side."""
    model = nj.ReducedHH()
    guess = np.array([-40.0, 0.3])  # depolarised: on the firing side of the separatrix
    low = continue_cycle(model, find_cycle(model, -1.55, guess=guess), -5.0, max_step=0.5)
    high = continue_cycle(model, find_cycle(model, 11.1, guess=guess), 20.0, max_step=0.5)
    (f_low,), (f_high,) = low.folds, high.folds
    # canard-like folds: the branch turns vertical in I while the cycle is still strongly
    # attracting, and the continuation ends there (its unstable side is beyond shooting)
    assert low.end == high.end == CANARD_END
    assert low.stable.all() and high.stable.all()
    # measured -1.60262 and 11.17377 µA/cm²
    assert -1.7 < f_low.parameter < -1.5 and 11.0 < f_high.parameter < 11.3
    for fold, inside in ((f_low, +1.0), (f_high, -1.0)):
        y0 = np.array([fold.state.v, fold.state.h])
        # 0.03 µA/cm² either side: the fold is located to ~1e-5 (the branch is vertical
        # there), so the margin is for the simulations' transients only
        assert _fires(model, fold.parameter + inside * 0.03, y0)
        assert not _fires(model, fold.parameter - inside * 0.03, y0)
        (rest,) = na.fixed_points(model, fold.parameter)
        assert rest.stable  # bistable: rest stays stable across the fold


# slow tier: a parameter homotopy of the fold system plus a fresh continuation (260 s
# measured, 56 s with the multiple-shooting corrector)
@pytest.mark.slow
def test_fold_of_cycles_far_from_the_given_fold(hh_fold_branch):
    """`fold_of_cycles` for parameters whose fold lies 0.2 µA/cm² away (g_K 36 → 36.3):
    plain Newton from the old fold diverged there; the homotopy in the parameters finds
    the fold that a fresh continuation of the new model locates."""
    _, _, branch = hh_fold_branch
    (fold,) = branch.folds
    with jax.enable_x64(True):
        moved = nj.HodgkinHuxley(e_l=-54.387, g_k=36.3)
        p = float(na.fold_of_cycles(moved, fold))
        above = find_cycle(moved, 10.0)
        start = find_cycle(moved, 6.7, guess=above.state)
        (fresh,) = continue_cycle(moved, start, 5.0, bounds=(5.0, 6.7), max_step=1.0).folds
    # both located to ~1e-10 in p (regula falsi / Newton); 1e-6 allows the different meshes
    assert p == pytest.approx(fresh.parameter, abs=1e-6)
    assert p - fold.parameter > 0.15  # measured 0.213: far outside the old fold's basin


def test_derivatives_without_x64_say_how_to_enable_it(bautin_branch):
    """Differentiating the continuation with 64-bit JAX disabled used to fail deep inside
    JAX (a float32/float64 scatter in the transpose); it raises an error saying what to do."""
    _, _, branch = bautin_branch
    (fold,) = branch.folds
    orbit = branch.orbit(len(branch) - 1)

    def fold_at(sigma):
        return na.fold_of_cycles(Bautin(sigma=sigma), fold)

    def period_at(sigma):
        return cycle_period(Bautin(sigma=sigma), orbit)

    with jax.enable_x64(False):
        for fn in (fold_at, period_at):
            with pytest.raises(TypeError, match="jax_enable_x64"):
                jax.grad(fn)(1.0)


def test_bautin_bifurcation_diagram_onsets_and_bistability():
    """The whole picture of the Bautin normal form on I ∈ [−1, 1]: rest loses stability at
    the subcritical Hopf point I = 0, firing (the stable cycles) stops going down at the fold
    of cycles I = −σ²/4, and the two coexist in between."""
    with jax.enable_x64(True):
        d = na.bifurcation_diagram(Bautin(), -1.0, 1.0, cycles=na.CycleSearch(probes=0))
    assert [p.kind for p in d.points] == ["fold of cycles", "hopf"]
    low = d.onsets[0]  # the stable cycles' lower edge: the fold, on the Hopf point's branch
    assert low.side == "lower" and low.kind == "hopf" and low.criticality == "subcritical"
    assert low.edge == pytest.approx(-0.25, abs=1e-7)
    ((lo, hi),) = d.bistable
    # the fold to RK4's 1e-8 relative (as above), the Hopf point to the bisection's 1e-12
    assert lo == pytest.approx(-0.25, abs=1e-7) and hi == pytest.approx(0.0, abs=1e-9)
