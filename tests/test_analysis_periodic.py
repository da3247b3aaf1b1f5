"""Periodic orbits by shooting (neurojax.analysis._periodic): cycles, Floquet multipliers,
continuation of cycles and their folds, and derivatives of the period and of a fold's
location by the implicit function theorem — checked against simulations (scipy and the
sweeps of `limit_cycles`), published values and finite differences."""

import equinox as eqx
import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from test_analysis_cycles import reduced_hh_numpy

import neurojax as nj
import neurojax.analysis as na
from neurojax.analysis._periodic import (
    CANARD_END,
    continue_cycle,
    cycle_period,
    find_cycle,
    fold_of_cycles,
)
from neurojax.analysis._system import float64, make_system


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


def test_derivatives_without_x64_say_how_to_enable_it(hh_fold_branch):
    """Differentiating the continuation with 64-bit JAX disabled used to fail deep inside
    JAX (a float32/float64 scatter in the transpose); it raises an error saying what to do."""
    _, _, branch = hh_fold_branch
    (fold,) = branch.folds

    def fold_at(g_k):
        return na.fold_of_cycles(nj.HodgkinHuxley(e_l=-54.387, g_k=g_k), fold)

    with jax.enable_x64(False):
        with pytest.raises(TypeError, match="jax_enable_x64"):
            jax.grad(fold_at)(36.0)
