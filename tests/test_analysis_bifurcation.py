"""Equilibria, continuation, folds and Hopf points, whole bifurcation diagrams and onsets,
checked against published values, closed forms and independent numpy/scipy computations.

Sections below come from the former test_analysis_picture.py, test_analysis_onset.py and
test_analysis_fixed_points.py (one file: one process and one set of compiled programs).
"""

from typing import NamedTuple

import jax
import matplotlib
import numpy as np
import pytest
from analysis_references import (
    INaPIK,
    INaPIKState,
    hh_equilibrium,
    hh_numpy,
    inapik_div,
    inapik_iv,
    inapik_numpy,
    reduced_hh_numpy,
)
from jaxtyping import Array
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import neurojax.analysis as na
from neurojax._model import parameter
from neurojax.channels import hh as hh_rates
from neurojax.neurons import (
    AbstractNeuron,
    FitzHughNagumo,
    HodgkinHuxley,
    MorrisLecar,
    ReducedHH,
)
from neurojax.neurons.inapk import INaPIK as LibraryINaPIK


@pytest.fixture(scope="module")
def hh_branch():
    # the original HH model: E_L = 10.613 mV above the −65 mV rest in the modern convention
    return na.continuation(HodgkinHuxley(e_l=-54.387), 0.0, 200.0)


# slow tier (this and the next two): HH's published Hopf currents, a scipy cross-check and
# the criticality's signs, on a continuation of HH over 0-200 µA/cm² (its compilation and
# the first Lyapunov coefficients' dominate); the fast tier keeps continuation, Hopf location
# and criticality against the normal form's closed forms (below)
@pytest.mark.slow
def test_hh_two_hopf_points_at_published_currents(hh_branch):
    """Rinzel & Miller (1980) Math Biosci 49:27; Izhikevich (2007) §6: the HH rest state
    loses stability at I ≈ 9.78 and regains it at I ≈ 154.5 µA/cm², both Hopf points."""
    assert [p.kind for p in hh_branch.points] == ["hopf", "hopf"]
    low, high = hh_branch.hopfs
    # the published values carry 3 and 4 significant digits: within half their last digit
    assert abs(low.parameter - 9.78) < 0.005
    assert abs(high.parameter - 154.5) < 0.05
    # measured: 9.77544 and 154.52243 (float32 parameters)
    for p in (low, high):
        # at the located point the critical pair is on the imaginary axis; 1e-8/ms is
        # ~1e-7 of the pair's frequency (~0.6-1 rad/ms): the bisection's precision
        assert abs(p.eigenvalues[0].real) < 1e-8
        assert p.omega > 0.5
    # stable below the first, unstable between, stable above the second
    stable = hh_branch.stable
    i = hh_branch.parameter
    assert stable[i < 9.7].all() and not stable[(i > 9.8) & (i < 154.4)].any()
    assert stable[i > 154.6].all()


@pytest.mark.slow
def test_hh_hopf_located_to_a_hundredth(hh_branch):
    """Independent check with scipy's fsolve and a finite-difference Jacobian: the real part
    of the leading eigenvalue changes sign within ±0.005 µA/cm² of each Hopf point."""
    low, high = (p.parameter for p in hh_branch.hopfs)
    lead = lambda current: max(hh_equilibrium(current)[1].real)  # noqa: E731
    assert lead(low - 0.005) < 0 < lead(low + 0.005)
    assert lead(high - 0.005) > 0 > lead(high + 0.005)


@pytest.mark.slow
def test_hh_hopf_criticality(hh_branch):
    """The lower Hopf point is subcritical (Hassard 1978 J Theor Biol 71:401; Rinzel &
    Miller 1980): repetitive firing starts with a jump. The upper one comes out
    supercritical (checked by simulation in the slow tier below)."""
    low, high = hh_branch.hopfs
    assert low.criticality == "subcritical" and low.lyapunov > 0
    assert high.criticality == "supercritical" and high.lyapunov < 0


# slow tier: validation of the upper Hopf point's criticality by a simulated sweep (its
# compilation for HH dominates); the fast tier keeps the Lyapunov coefficients' signs (above)
# and their closed form on the normal form (below)
@pytest.mark.slow
def test_hh_upper_hopf_is_supercritical_by_simulation(hh_branch):
    """Just below the upper Hopf point the stable oscillation is small and has the period
    2π/ω of the critical eigenvalues."""
    _, high = hh_branch.hopfs
    lc = na.limit_cycles(
        HodgkinHuxley(e_l=-54.387),
        [high.parameter - 2.0, high.parameter - 1.0],
        transient=300.0,
        window=60.0,
        dt=0.02,
    )
    assert lc.down.oscillating.all()
    amplitude = lc.down.v_max - lc.down.v_min
    # measured 5.4 and 3.7 mV (action potentials are ~100 mV): a small cycle, growing
    # like √(I_H − I) (ratio √2 = 1.41 for the exact normal form; measured 1.47)
    assert (amplitude < 8.0).all()
    assert 1.2 < amplitude[0] / amplitude[1] < 1.7
    # period → 2π/ω as I → I_H: measured 0.17 % off at 1 µA/cm² below (the O(ΔI) shift)
    np.testing.assert_allclose(lc.down.period[1], high.period, rtol=5e-3)


# slow tier: a long equilibrium continuation around two folds (33 s measured); continuation
# and Hopf location stay in the fast tier via the HH branch tests
@pytest.mark.slow
def test_continuation_goes_around_both_folds():
    """The INa,p+IK model has an N-shaped I–V curve, so its equilibria form an S: one
    branch with two folds, where `dI∞/dV = 0` (found here with brentq on a hand-written
    derivative)."""
    model = INaPIK()
    v_folds = [
        brentq(inapik_div, -70.0, -50.0, xtol=1e-14),
        brentq(inapik_div, -50.0, -30.0, xtol=1e-14),
    ]
    i_folds = [inapik_iv(v) for v in v_folds]  # ≈ 4.51 (Izhikevich 2007, Fig. 4.1) and −85.8

    # from the stable state at I = -20, towards I = 60: up to the upper fold, back down
    branch = na.continuation(model, -20.0, 60.0)
    p = branch.parameter
    assert p.max() < i_folds[0] + 1e-6 and p[-1] == pytest.approx(-20.0)
    assert [b.kind for b in branch.points] == ["fold"]
    fold = branch.folds[0]
    # located to ~1e-12; 1e-8 relative leaves room for the float64 rounding of the test
    np.testing.assert_allclose(fold.parameter, i_folds[0], rtol=1e-8)
    np.testing.assert_allclose(fold.v, v_folds[0], rtol=1e-8)
    assert branch.stable[0] and not branch.stable[-1]  # stable node → saddle

    # the whole S over [-100, 60]: one branch through both folds
    diagram = na.bifurcation_diagram(model, -100.0, 60.0, cycles=False)
    assert len(diagram.branches) == 1
    assert [b.kind for b in diagram.points] == ["fold", "fold"]
    found = sorted(b.parameter for b in diagram.folds)
    np.testing.assert_allclose(found, sorted(i_folds), rtol=1e-8)
    # and the steady-state I–V curve agrees with the hand-written one
    v = np.linspace(-90.0, 0.0, 7)
    np.testing.assert_allclose(na.steady_state_current(model, v), inapik_iv(v), rtol=1e-10)


@pytest.mark.slow  # cross-validation of two continuations
def test_parameter_continuation_agrees_with_current_continuation():
    """Vary g_K at I = 10 µA/cm² until a Hopf point; at that g_K, continuation in the
    current must find the Hopf point at I = 10 (two parameterisations of one surface)."""
    with jax.enable_x64(True):
        model = HodgkinHuxley(e_l=-54.387)
        branch = na.continuation(model, 36.0, 60.0, parameter=lambda m: m.g_k, current=10.0)
        assert branch.parameter_name == "g_k"
        (hopf,) = branch.hopfs
        g_k = hopf.parameter  # ≈ 36.2: more K⁺ conductance restores rest
        back = na.continuation(HodgkinHuxley(e_l=-54.387, g_k=g_k), 0.0, 20.0)
        np.testing.assert_allclose(back.hopfs[0].parameter, 10.0, rtol=1e-8)


class NormalFormState(NamedTuple):
    v: Array
    w: Array


class HopfNormalForm(AbstractNeuron):
    """dv = Iv − ωw + σv(v² + w²), dw = ωv + Iw + σw(v² + w²): a Hopf point at I = 0."""

    omega: Array = parameter(2.0)
    sigma: Array = parameter(-0.5)

    def init_state(self, batch_shape=()):
        return NormalFormState(self.full(0.0, batch_shape), self.full(0.0, batch_shape))

    def vector_field(self, t, state, current):
        v, w = state
        r2 = v**2 + w**2
        return NormalFormState(
            current * v - self.omega * w + self.sigma * v * r2,
            self.omega * v + current * w + self.sigma * w * r2,
        )


# slow tier: a model class of its own (its programs compile for ~5 s); the fast tier checks
# the same closed form l₁ = 2σ/ω on the Bautin normal form, sub- and supercritical, whose
# programs test_analysis_periodic compiles for its cycles anyway
@pytest.mark.slow
@pytest.mark.parametrize("sigma", [-0.5, 0.3])
def test_first_lyapunov_coefficient_of_the_normal_form(sigma):
    """With ⟨q, q⟩ = 1, q = (1, −i)/√2 and C(q, q, q̄) = 4σq, so l₁ = Re⟨p, C⟩/(2ω) = 2σ/ω
    (Kuznetsov 2004, eq. 3.20). Cubic terms only: no quadratic contribution."""
    branch = na.continuation(HopfNormalForm(sigma=sigma), -1.0, 1.0)
    (hopf,) = branch.hopfs
    assert abs(hopf.parameter) < 1e-10
    assert hopf.omega == pytest.approx(2.0, rel=1e-10)
    # float32 parameters (σ = 0.3 is not exact in float32): 1e-6
    assert hopf.lyapunov == pytest.approx(2 * sigma / 2.0, rel=1e-6)
    assert hopf.criticality == ("supercritical" if sigma < 0 else "subcritical")


# ======================================================================================
# (was tests/test_analysis_picture.py)
# The whole bifurcation picture in one call (`bifurcation_diagram`): equilibria, cycles
# from Hopf points and from simulated firing, their folds, how firing starts and stops, and
# the bistable ranges — checked against published values, closed forms and simulations.

matplotlib.use("Agg")


def test_inapik_model_matches_izhikevich():
    """The INa,p+IK model against a numpy transcription of Izhikevich (2007) §4.1.2, and
    its fold of equilibria at I ≈ 4.51 µA/cm² (Fig. 4.1 / 6.7: a saddle-node on an
    invariant circle)."""
    import jax

    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        model = LibraryINaPIK()
        for _ in range(5):
            y = np.array([rng.uniform(-90, 40), rng.uniform(0, 1)])
            dy = model.vector_field(0.0, INaPIKState(*y), 3.0)
            # the same formulas in float64: rounding only
            np.testing.assert_allclose(np.array(dy), inapik_numpy(0, y, 3.0), rtol=1e-12)
    rest = LibraryINaPIK().init_state()  # built outside x64: float32 parameters and rest
    np.testing.assert_allclose(inapik_numpy(0, np.array(rest), 0.0), 0.0, atol=1e-4)  # float32
    low = LibraryINaPIK.izhikevich2007("low-threshold")
    assert float(low.v_half_n) == -45.0 and float(low.e_l) == -78.0
    with pytest.raises(ValueError, match="high-threshold"):
        LibraryINaPIK.izhikevich2007("medium")


def _settles(f, y0, t_end=1500.0):
    """Peak-to-peak V over the last 200 ms of a scipy LSODA run (rtol 1e-9) from y0."""
    sol = solve_ivp(f, (0, t_end), y0, method="LSODA", rtol=1e-9, atol=1e-9, max_step=0.5)
    return np.ptp(sol.y[0, sol.t > t_end - 200.0])


# slow tier: a full bifurcation diagram with cycles plus four 1.5 s scipy LSODA runs at rtol
# 1e-9 (96 s measured, 37 s with the multiple-shooting corrector); the fast tier keeps the
# diagram's onsets through the Morris-Lecar homoclinic set (test_analysis_onset) and
# test_analysis_cycles' ReducedHH bistability
@pytest.mark.slow
def test_reduced_hh_starts_and_stops_firing_in_folds_of_cycles():
    """ReducedHH (default h_plus_n = 0.855): rest is a stable focus at every current in
    [−5, 30] µA/cm² (no fold, no Hopf point), yet the neuron can fire over a band of
    currents: a stable cycle born and destroyed in folds of limit cycles. One call finds
    both folds (from a cycle found by simulation) and the bistable band between them; a
    scipy simulation (LSODA, rtol 1e-9) started on the cycle next to each fold keeps
    firing just inside the band and returns to rest just outside it."""
    model = ReducedHH()
    d = na.bifurcation_diagram(model, -5.0, 30.0, cycles=na.CycleSearch(probes=3))
    assert d.folds == [] and d.hopfs == []
    assert all(b.stable.all() for b in d.branches)
    lower, upper = d.onsets
    assert (lower.side, upper.side) == ("lower", "upper")
    assert lower.kind == upper.kind == "fold of cycles"
    # the band between the folds is where rest and firing coexist (edges located, not
    # sampled: to the continuation's tolerance)
    ((lo, hi),) = d.bistable
    assert lo == pytest.approx(lower.edge, abs=1e-6) and hi == pytest.approx(upper.edge, abs=1e-6)
    # measured (test_analysis_cycles' sweep): firing from ≈ −1.75 to ≈ 12 µA/cm²
    assert -2.5 < lower.edge < -1.0 and 10.0 < upper.edge < 13.0
    cycle = d.cycles[0]
    f = reduced_hh_numpy
    for edge, inward in ((lower.edge, +1.0), (upper.edge, -1.0)):
        i = int(np.argmin(np.abs(cycle.parameter - edge)))
        start = cycle.state[i]
        # 0.2 µA/cm² either side: beyond the fold the cycle's ghost slows the decay, so
        # a margin well above the fold's location error (~1e-6) and a long run (1.5 s)
        assert _settles(f(model, edge + 0.2 * inward), start) > 100.0  # fires on
        assert _settles(f(model, edge - 0.2 * inward), start) < 1.0  # back to rest
    summary = d.summary()
    assert "fold of cycles" in summary and "bistable" in summary
    ax = d.plot()
    assert ax.get_xlabel() == "I (µA/cm²)" and ax.get_ylabel() == "V (mV)"
    labels = ax.get_legend_handles_labels()[1]
    assert "stable cycles (min/max)" in labels and "stable equilibria" in labels


# ======================================================================================
# (was tests/test_analysis_onset.py)
# How repetitive firing starts: the period's growth law near an infinite-period onset
# (saddle-node on an invariant circle: T ∝ (I − I_c)^(−1/2); homoclinic: T ∝ −ln(I − I_c)),
# checked on closed forms and on Morris–Lecar (Rinzel & Ermentrout 1998) simulations.


def test_period_law_recovers_closed_forms():
    d = np.geomspace(1e-3, 1.0, 12)
    snic = na.period_law(2.0 + d, 3.0 + 7.0 * d**-0.5, 2.0)
    # exact data: the exponent to the golden-section tolerance (1e-10 of the bracket)
    assert snic.exponent == pytest.approx(-0.5, abs=1e-6)
    assert snic.amplitude == pytest.approx(7.0, rel=1e-5)
    assert snic.better == "square root" and snic.power_rms < 1e-9
    homoclinic = na.period_law(2.0 - d, 12.0 - 5.0 * np.log(d), 2.0)  # from below
    # a linear least-squares fit of exact data: rounding only
    assert homoclinic.log_slope == pytest.approx(5.0, rel=1e-9)
    assert homoclinic.better == "logarithmic" and homoclinic.log_rms < 1e-12
    with pytest.raises(ValueError, match="one side of critical"):
        na.period_law([1.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0], 2.0)
    with pytest.raises(ValueError, match=">= 4"):
        na.period_law([3.0, 4.0], [1.0, 2.0], 2.0)


# slow tier: a cycle branch followed up to an infinite period (35 s measured, 9 s with the
# multiple-shooting corrector); the fast tier keeps the period-law fit and the
# subcritical-Hopf onset
@pytest.mark.slow
def test_snic_period_grows_like_inverse_square_root():
    """Morris–Lecar, Rinzel & Ermentrout's SNLC set: rest disappears at the fold of the
    equilibria (I_c ≈ 39.96 µA/cm²) onto a limit cycle, whose period diverges there like
    (I − I_c)^(−1/2). The periods are measured by simulation (limit_cycles), the fold by
    continuation: two independent computations."""
    model = MorrisLecar.rinzel_ermentrout1998("snlc")
    diagram = na.bifurcation_diagram(model, 0.0, 60.0, cycles=False)
    (fold,) = [f for f in diagram.folds if f.parameter > 30.0]
    assert fold.parameter == pytest.approx(39.96, abs=0.01)  # Rinzel & Ermentrout: ≈ 40
    d = np.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    lc = na.limit_cycles(
        model,
        fold.parameter + d,
        sweep=na.Sweep.DOWN,
        down_state0=[0.0, 0.3],
        dt=0.1,
        transient=3000.0,
        window=4000.0,
    )
    assert lc.down.oscillating.all()
    law = na.period_law(lc.down.parameter, lc.down.period, fold.parameter)
    # measured −0.495 (periods 120 to 813 ms): the O(1) and O(√d) corrections to the
    # normal form's π/√(ab·d) bias a fit over d = 0.05..3.2 by ~1 %; 0.02 is 4× that
    assert law.exponent == pytest.approx(-0.5, abs=0.02)
    # the square-root law fits to 0.2 %, the logarithmic one 80× worse (measured 16 %)
    assert law.better == "square root" and law.log_rms > 10 * law.power_rms


# slow tier: a published-figure comparison (Rinzel & Ermentrout Fig. 7.3); the fast tier
# keeps the subcritical Hopf point of the normal forms (here and test_analysis_periodic)
@pytest.mark.slow
def test_morris_lecar_hopf_set_loses_rest_in_a_subcritical_hopf():
    """Rinzel & Ermentrout (1998) Fig. 7.3: with the `hopf` set rest loses stability in a
    subcritical Hopf bifurcation near 93.9 µA/cm² (first Lyapunov coefficient > 0). Its
    branch of unstable cycles turns at a fold of cycles (88.2932 µA/cm², measured with
    `bifurcation_diagram(model, 80, 100)`), but following those relaxation cycles needs
    4096–16384 RK4 steps per period and minutes of CPU, too long for the test suite; the
    fold-of-cycles machinery is tested on HH and the reduced HH (test_analysis_periodic)."""
    model = MorrisLecar.rinzel_ermentrout1998("hopf")
    d = na.bifurcation_diagram(model, 80.0, 100.0, cycles=False)
    (hopf,) = d.hopfs
    assert hopf.criticality == "subcritical"
    assert 93.0 < hopf.parameter < 95.0  # R&E's Fig. 7.3: onset of firing near 94 µA/cm²
    # rest is stable below the Hopf point and unstable above it
    below = na.fixed_points(model, current=hopf.parameter - 1.0)
    above = na.fixed_points(model, current=hopf.parameter + 1.0)
    assert [p.stable for p in below] == [True] and [p.stable for p in above] == [False]


# slow tier: published-figure comparisons, each a cycle branch followed to an infinite
# period (SNIC: 88 s measured before the multiple-shooting corrector, 19 s after; homoclinic
# 38 s, then 8 s); the fast tier keeps the period-law fit above and the onsets of the
# Bautin normal form's diagram (test_analysis_periodic: subcritical Hopf, fold of cycles)
@pytest.mark.slow
@pytest.mark.parametrize("name, interval", [("snlc", (30.0, 50.0)), ("homoclinic", (30.0, 40.0))])
def test_morris_lecar_onsets_match_rinzel_ermentrout(name, interval):
    """Rinzel & Ermentrout (1998) Figs. 7.4–7.6: with `snlc` the cycle
    appears where rest disappears in a fold of equilibria (SNIC), its period diverging
    like (I − I_c)^(−1/2); with `homoclinic` the period diverges at a saddle away from the
    fold, logarithmically, with slope 1/λ_u (λ_u the saddle's unstable eigenvalue)."""
    model = MorrisLecar.rinzel_ermentrout1998(name)
    d = na.bifurcation_diagram(model, *interval, cycles=na.CycleSearch(probes=2))
    onset = d.onsets[0]  # the lowest current at which the neuron can fire
    assert onset.side == "lower"
    if name == "snlc":
        (fold,) = d.folds
        assert onset.kind == "snic" and onset.parameter == fold.parameter  # ≈ 39.96
        # continuation periods up to ~20 × the shortest: as with the simulated ones,
        # ~1 % bias from the corrections to the normal form; 0.02 allows twice that
        assert onset.law.exponent == pytest.approx(-0.5, abs=0.02)
        assert onset.law.better == "square root"
        assert d.bistable == []  # class I: no coexistence
    else:
        assert onset.kind == "homoclinic"
        assert onset.law.better == "logarithmic"
        saddle = onset.point
        assert saddle.stability == "saddle"
        lam = saddle.eigenvalues.real.max()
        # T ≈ c − ln(I − I_c)/λ_u: the slope fitted over periods 2-20× the shortest,
        # where the O(d) corrections are a few %; 10 % allows for them
        assert onset.law.log_slope == pytest.approx(1.0 / lam, rel=0.1)
        # and rest (below the fold at 39.96) coexists with firing above the onset
        ((lo, hi),) = d.bistable
        assert lo == pytest.approx(onset.edge, abs=1e-3) and hi > 39.9


# ======================================================================================
# (was tests/test_analysis_fixed_points.py)
# Equilibria and their stability, against closed forms and independent scipy solves.


@pytest.fixture
def x64():
    # float64 parameters, so that the independent float64 references see the same model
    with jax.enable_x64(True):
        yield


# slow tier: validation against scipy's fsolve; the fast tier keeps HH past its Hopf point and
# its steady-state gates (closed form) below
@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_hh_rest_state_matches_scipy():
    (fp,) = na.fixed_points(HodgkinHuxley(e_l=-54.387), 0.0)
    y, eig = hh_equilibrium(0.0)
    np.testing.assert_allclose(fp.x, y, rtol=1e-9, atol=1e-12)  # fsolve at xtol=1e-13
    # finite-difference Jacobian (step 1e-6): eigenvalues to ~1e-8
    np.testing.assert_allclose(np.sort_complex(fp.eigenvalues), np.sort_complex(eig), atol=1e-6)
    assert fp.variables == ("v", "m", "h", "n")
    assert fp.stability == "stable focus" and fp.stable
    assert fp.v == pytest.approx(-65.0, abs=0.01)  # E_L = -54.387 was chosen for that


# slow tier (this and the steady-state gates below): HH's equilibrium program compiles for
# ~4 s of the fast tier's budget; the fast tier keeps FitzHugh–Nagumo's and the LIF's closed
# forms (equilibria, stability classes, Hopf points, I∞)
@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_hh_past_the_hopf_point_is_an_unstable_focus():
    (fp,) = na.fixed_points(HodgkinHuxley(e_l=-54.387), 20.0)
    # a complex pair in the right half plane, the two other eigenvalues real and negative
    assert fp.stability == "unstable focus" and not fp.stable
    assert fp.eigenvalues[0].real > 0 and abs(fp.eigenvalues[0].imag) > 0.1


# -- FitzHugh–Nagumo: dv = v − v³/3 − w + I, τ dw = v + a − b w --------------------------


def fhn_analytic(a, b, tau, current):
    """Equilibria: real roots of v³/3 + (1/b − 1) v + a/b − I = 0, w = (v + a)/b; Jacobian
    [[1 − v², −1], [1/τ, −b/τ]]: eigenvalues from its trace and determinant."""
    roots = np.roots([1 / 3, 0.0, 1 / b - 1, a / b - current])
    v = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    tr = 1 - v**2 - b / tau
    det = -(1 - v**2) * b / tau + 1 / tau
    disc = np.sqrt((tr**2 - 4 * det).astype(complex))
    return v, (v + a) / b, np.stack([(tr + disc) / 2, (tr - disc) / 2], axis=1), det


@pytest.mark.parametrize(
    "params, current, classes",
    [
        ((0.7, 0.8, 12.5), 0.0, ["stable focus"]),  # FitzHugh's excitable rest
        ((0.7, 0.8, 12.5), 0.5, ["unstable focus"]),  # between the Hopf points: oscillates
        ((0.0, 3.0, 12.5), 0.0, ["stable node", "saddle", "stable node"]),  # bistable
    ],
)
@pytest.mark.usefixtures("x64")
def test_fitzhugh_nagumo_equilibria_and_stability(params, current, classes):
    a, b, tau = params
    fps = na.fixed_points(FitzHughNagumo(a=a, b=b, tau=tau), current, v_range=(-3.0, 3.0))
    v, w, eig, det = fhn_analytic(a, b, tau, current)
    assert [fp.stability for fp in fps] == classes
    np.testing.assert_allclose([fp.v for fp in fps], v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose([fp.state.w for fp in fps], w, rtol=1e-10, atol=1e-12)
    for fp, e in zip(fps, eig, strict=True):
        np.testing.assert_allclose(np.sort_complex(fp.eigenvalues), np.sort_complex(e), atol=1e-12)
    # saddle ⟺ det J < 0
    assert [fp.stability == "saddle" for fp in fps] == list(det < 0)


def guckenheimer_holmes(v0, b, tau):
    """`(a, ω)` at the FitzHugh–Nagumo Hopf point `v0`:
    a = (f_xxx + f_xyy + g_xxy + g_yyy)/16 + (f_xy(f_xx + f_yy) − g_xy(g_xx + g_yy)
    − f_xx g_xx + f_yy g_yy)/(16ω) (Guckenheimer & Holmes 1983, eq. 3.4.11), in the
    coordinates x = Tξ where the linear part is [[0, −ω], [ω, 0]]."""
    jac = np.array([[1 - v0**2, -1.0], [1 / tau, -b / tau]])
    ev, vecs = np.linalg.eig(jac)
    k = np.argmax(ev.imag)
    w0 = ev[k].imag
    q = vecs[:, k] / np.linalg.norm(vecs[:, k])
    t = 2 * np.array([q.real, -q.imag]).T
    c = np.linalg.inv(t)[:, 0]  # the nonlinearity φ(s) = −v0 s² − s³/3 acts on dv only
    al, be = t[0]  # s = al ξ + be η
    d2, d3 = -2 * v0, -2.0  # φ'' and φ''' at s = 0

    def f(i, j, row=0):  # ∂^(i+j)/∂ξ^i ∂η^j of component `row` of T⁻¹φ
        return c[row] * (d2 if i + j == 2 else d3) * al**i * be**j

    def g(i, j):
        return f(i, j, row=1)

    a = (f(3, 0) + f(1, 2) + g(2, 1) + g(0, 3)) / 16 + (
        f(1, 1) * (f(2, 0) + f(0, 2))
        - g(1, 1) * (g(2, 0) + g(0, 2))
        - f(2, 0) * g(2, 0)
        + f(0, 2) * g(0, 2)
    ) / (16 * w0)
    return a, w0


@pytest.mark.usefixtures("x64")
def test_fitzhugh_nagumo_hopf_points_and_criticality():
    """Hopf where tr J = 0 with det J > 0: v_H = ±√(1 − b/τ), I_H = w − v + v³/3. The first
    Lyapunov coefficient from an independent route: the Guckenheimer–Holmes formula (1983,
    eq. 3.4.11) in the coordinates x = 2[Re q, −Im q]ξ where the linear part is
    [[0, −ω], [ω, 0]]; its coefficient `a` is Re c₁ = ω·l₁ (Kuznetsov's normalisation)."""
    a, b, tau = 0.7, 0.8, 12.5
    # equilibria only: the relaxation cycles born at these Hopf points (periods ~40 time
    # units) take minutes to continue and are not what this test checks
    diagram = na.bifurcation_diagram(FitzHughNagumo(), 0.0, 2.0, v_range=(-3.0, 3.0), cycles=False)
    hopfs = diagram.hopfs
    assert len(hopfs) == 2 and not diagram.folds
    v_h = np.array([-1.0, 1.0]) * np.sqrt(1 - b / tau)
    i_h = (v_h + a) / b - v_h + v_h**3 / 3
    np.testing.assert_allclose([h.parameter for h in hopfs], i_h, rtol=1e-10)
    omega = np.sqrt(1 / tau - b * (1 - v_h**2) / tau)  # √det at tr = 0
    np.testing.assert_allclose([h.omega for h in hopfs], omega, rtol=1e-8)

    for h, v0 in zip(hopfs, v_h, strict=True):
        a_gh, w0 = guckenheimer_holmes(v0, b, tau)
        assert h.lyapunov == pytest.approx(a_gh / w0, rel=1e-6)
    # l₁ ≈ +0.97 at both: FitzHugh's parameters give subcritical Hopf points
    assert [h.criticality for h in hopfs] == ["subcritical", "subcritical"]


def reduced_hh_rest_numpy(g_na, g_k, g_l, e_na, e_k, e_l, h_plus_n):
    """The reduced HH at rest, written again in numpy: h = h∞(V), n = h_plus_n − h,
    m = m∞(V); the total ionic current vanishes. brentq on V."""

    def rates(v):
        am = 0.1 * (-(v + 40.0)) / (np.exp(-(v + 40.0) / 10.0) - 1.0)
        bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (np.exp(-(v + 35.0) / 10.0) + 1.0)
        return am / (am + bm), ah / (ah + bh)

    def current(v):
        m, h = rates(v)
        n = h_plus_n - h
        return g_na * m**3 * h * (v - e_na) + g_k * n**4 * (v - e_k) + g_l * (v - e_l)

    v = brentq(current, -80.0, -50.0, xtol=1e-14, rtol=1e-15)
    return v, rates(v)[1]


# slow tier: validation against an independent numpy/brentq solve (the ReducedHH compiles
# for its own); the fast tier keeps the FitzHugh–Nagumo and LIF closed forms
@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_reduced_hh_single_stable_focus_at_rest():
    model = ReducedHH()
    fps = na.fixed_points(model, 0.0)
    assert len(fps) == 1
    (fp,) = fps
    assert fp.stability == "stable focus"
    names = ("g_na", "g_k", "g_l", "e_na", "e_k", "e_l", "h_plus_n")
    v, h = reduced_hh_rest_numpy(*(float(getattr(model, n)) for n in names))
    # brentq to 1e-14: agreement to 1e-6 asked; measured ~1e-13
    assert fp.v == pytest.approx(v, rel=1e-9)
    assert fp.state.h == pytest.approx(h, rel=1e-9)
    assert fp.v == pytest.approx(-63.50, abs=0.01)  # the model's docstring value


@pytest.mark.parametrize(
    "eigenvalues, expected",
    [
        ([-1.0, -2.0], "stable node"),
        ([-1 + 2j, -1 - 2j], "stable focus"),
        ([1.0, 3.0], "unstable node"),
        ([0.5 + 1j, 0.5 - 1j], "unstable focus"),
        ([1.0, -1.0], "saddle"),
        ([0.1 + 1j, 0.1 - 1j, -2.0, -3.0], "unstable focus"),  # HH past its Hopf point
        ([0.1, -2.0 + 1j, -2.0 - 1j], "saddle"),
        ([1e-14 + 1j, 1e-14 - 1j], "non-hyperbolic"),
    ],
)
@pytest.mark.usefixtures("x64")
def test_classify(eigenvalues, expected):
    assert na.classify(eigenvalues) == expected


@pytest.mark.slow
@pytest.mark.usefixtures("x64")
def test_hh_steady_state_gates():
    """The steady-state curve used for seeding puts the gates at x∞(V): I∞ at the rest
    potential is 0 and the fixed point's gates are α/(α + β)."""
    (fp,) = na.fixed_points(HodgkinHuxley(e_l=-54.387), 0.0)
    for gate, (alpha, beta) in {
        "m": (hh_rates.alpha_m, hh_rates.beta_m),
        "h": (hh_rates.alpha_h, hh_rates.beta_h),
        "n": (hh_rates.alpha_n, hh_rates.beta_n),
    }.items():
        assert getattr(fp.state, gate) == pytest.approx(
            float(hh_rates.steady_state(alpha, beta, fp.v)), rel=1e-12
        )
    assert na.steady_state_current(HodgkinHuxley(e_l=-54.387), fp.v) == pytest.approx(
        0.0, abs=1e-10
    )


# ---------------------------------------------------------------------------------------
# the references agree with the models they stand for


@pytest.mark.usefixtures("x64")
def test_numpy_references_match_the_jax_models():
    import jax

    from neurojax.neurons import HodgkinHuxley

    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        hh = HodgkinHuxley(e_l=-54.387)
        nap = INaPIK()
        for _ in range(5):
            y = np.array([rng.uniform(-90, 40), *rng.uniform(0, 1, 3)])
            s = hh.vector_field(0.0, type(hh.init_state())(*y), 7.0)
            # identical formulas in float64: agreement to rounding
            np.testing.assert_allclose(np.array(s), hh_numpy(y, 7.0), rtol=1e-12, atol=1e-12)
            y2 = np.array([rng.uniform(-90, 40), rng.uniform(0, 1)])
            s2 = nap.vector_field(0.0, INaPIKState(*y2), 3.0)
            np.testing.assert_allclose(np.array(s2), inapik_numpy(0, y2, 3.0), rtol=1e-12)


@pytest.mark.usefixtures("x64")
def test_fitzhugh_nagumo_steady_state_current():
    """I∞(V) = V³/3 − V + (V + a)/b: the current that makes V an equilibrium (dv = 0 with w
    at its steady state (V + a)/b)."""
    a, b = 0.7, 0.8
    v = np.linspace(-2.5, 2.5, 11)
    got = na.steady_state_current(FitzHughNagumo(a=a, b=b, tau=12.5), v)
    # Newton to 1e-12 relative on float64 parameters: rounding only
    np.testing.assert_allclose(got, v**3 / 3 - v + (v + a) / b, rtol=1e-10, atol=1e-12)
