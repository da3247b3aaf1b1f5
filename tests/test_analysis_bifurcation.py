"""Continuation, folds and Hopf points, checked against published values, closed forms and
independent numpy/scipy computations."""

from typing import NamedTuple

import jax
import numpy as np
import pytest
from jaxtyping import Array
from scipy.optimize import brentq
from test_analysis_models import INaPIK, hh_equilibrium, inapik_div, inapik_iv

import neurojax.analysis as na
from neurojax._model import parameter
from neurojax.neurons import AbstractNeuron, HodgkinHuxley


@pytest.fixture(scope="module")
def hh_branch():
    # the original HH model: E_L = 10.613 mV above the −65 mV rest in the modern convention
    return na.continuation(HodgkinHuxley(e_l=-54.387), 0.0, 200.0)


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


def test_hh_hopf_located_to_a_hundredth(hh_branch):
    """Independent check with scipy's fsolve and a finite-difference Jacobian: the real part
    of the leading eigenvalue changes sign within ±0.005 µA/cm² of each Hopf point."""
    low, high = (p.parameter for p in hh_branch.hopfs)
    lead = lambda current: max(hh_equilibrium(current)[1].real)  # noqa: E731
    assert lead(low - 0.005) < 0 < lead(low + 0.005)
    assert lead(high - 0.005) > 0 > lead(high + 0.005)


def test_hh_hopf_criticality(hh_branch):
    """The lower Hopf point is subcritical (Hassard 1978 J Theor Biol 71:401; Rinzel &
    Miller 1980): repetitive firing starts with a jump. The upper one comes out
    supercritical: checked by simulation, the stable oscillation just below it is small and
    has the period 2π/ω of the critical eigenvalues."""
    low, high = hh_branch.hopfs
    assert low.criticality == "subcritical" and low.lyapunov > 0
    assert high.criticality == "supercritical" and high.lyapunov < 0
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
