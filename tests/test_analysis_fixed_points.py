"""Equilibria and their stability, against closed forms and independent scipy solves."""

import jax
import numpy as np
import pytest
from scipy.optimize import brentq
from test_analysis_models import hh_equilibrium

import neurojax.analysis as na
from neurojax.channels import hh as hh_rates
from neurojax.neurons import LIF, FitzHughNagumo, HodgkinHuxley, ReducedHH


@pytest.fixture(autouse=True)
def x64():
    # float64 parameters, so that the independent float64 references see the same model
    with jax.enable_x64(True):
        yield


def test_hh_rest_state_matches_scipy():
    (fp,) = na.fixed_points(HodgkinHuxley(e_l=-54.387), 0.0)
    y, eig = hh_equilibrium(0.0)
    np.testing.assert_allclose(fp.x, y, rtol=1e-9, atol=1e-12)  # fsolve at xtol=1e-13
    # finite-difference Jacobian (step 1e-6): eigenvalues to ~1e-8
    np.testing.assert_allclose(np.sort_complex(fp.eigenvalues), np.sort_complex(eig), atol=1e-6)
    assert fp.variables == ("v", "m", "h", "n")
    assert fp.stability == "stable focus" and fp.stable
    assert fp.v == pytest.approx(-65.0, abs=0.01)  # E_L = -54.387 was chosen for that


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


def test_lif_equilibrium_and_its_reset():
    model = LIF()  # v_rest −65 mV, R 10 MΩ, threshold −50 mV
    (fp,) = na.fixed_points(model, 1.0)
    assert fp.variables == ("v",)  # the refractory counter is not a dynamical variable
    assert fp.v == pytest.approx(-65.0 + 10.0 * 1.0, abs=1e-10)
    assert fp.eigenvalues == pytest.approx([-1 / 10.0])  # −1/τ
    assert fp.stability == "stable node"
    # above rheobase the ODE's equilibrium lies beyond threshold: the reset removes it
    with pytest.raises(na.NoEquilibriumError, match=r"V = -45.*threshold and reset.*fires"):
        na.fixed_points(model, 2.0)
    (virtual,) = na.fixed_points(model, 2.0, include_virtual=True)
    assert virtual.v == pytest.approx(-45.0)


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
def test_classify(eigenvalues, expected):
    assert na.classify(eigenvalues) == expected


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
