"""Phase planes: nullclines against their closed forms, limit cycles against scipy."""

import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from test_analysis_models import hh_rates

import neurojax.analysis as na
from neurojax.neurons import AdEx, FitzHughNagumo, HodgkinHuxley


@pytest.fixture(scope="module")
def fhn_plane():
    with jax.enable_x64(True):
        return na.phase_plane(
            FitzHughNagumo(),
            0.5,
            x_range=(-2.5, 2.5),
            y_range=(-1.0, 2.0),
            trajectories=[(-2.0, -0.5), (0.0, 1.5)],
            t_max=60.0,
        )


def test_fitzhugh_nagumo_nullclines(fhn_plane):
    pp = fhn_plane
    assert pp.variables == ("v", "w") and pp.slaved == ()
    v_line = np.concatenate(pp.x_nullcline)
    w_line = np.concatenate(pp.y_nullcline)
    # dv/dt = 0 on the cubic w = v − v³/3 + I; contour lines interpolate linearly between
    # grid nodes 5/300 apart: error ≲ h²·max|w''|/8 ≈ 1.7e-4 for |w''| = 2|v| ≤ 5
    np.testing.assert_allclose(v_line[:, 1], v_line[:, 0] - v_line[:, 0] ** 3 / 3 + 0.5, atol=2e-4)
    # dw/dt = 0 on the straight line w = (v + a)/b: linear interpolation is exact
    np.testing.assert_allclose(w_line[:, 1], (w_line[:, 0] + 0.7) / 0.8, atol=1e-10)
    # the cubic nullcline crosses the window: it spans the whole v range
    assert v_line[:, 0].min() < -1.5 and v_line[:, 0].max() > 1.3
    # the single equilibrium is the nullclines' crossing, an unstable focus at I = 0.5
    (fp,) = pp.fixed_points
    assert fp.stability == "unstable focus"
    assert fp.state.w == pytest.approx((fp.v + 0.7) / 0.8, rel=1e-12)
    assert fp.state.w == pytest.approx(fp.v - fp.v**3 / 3 + 0.5, rel=1e-12)
    # the arrows are the vector field
    j, i = 3, 5
    assert pp.dx[j, i] == pytest.approx(pp.x[i] - pp.x[i] ** 3 / 3 - pp.y[j] + 0.5)
    assert pp.dy[j, i] == pytest.approx((pp.x[i] + 0.7 - 0.8 * pp.y[j]) / 12.5)


def test_fitzhugh_nagumo_limit_cycle_matches_scipy(fhn_plane):
    pp = fhn_plane
    assert pp.limit_cycle is not None

    def f(t, y):
        v, w = y
        return [v - v**3 / 3 - w + 0.5, (v + 0.7 - 0.8 * w) / 12.5]

    # independent: LSODA to 1e-10, period between successive upward crossings of v = 0
    def up(t, y):
        return y[0]

    up.direction = 1
    sol = solve_ivp(f, (0, 600), [-2.0, -0.5], method="LSODA", rtol=1e-10, atol=1e-12, events=up)
    period = np.diff(sol.t_events[0])[-1]  # ≈ 36.4
    # RK4 at dt = 0.01 and linear interpolation of the crossings: measured 2e-6 relative
    assert pp.period == pytest.approx(period, rel=1e-4)
    # the cycle's extent agrees with scipy's last period
    last = sol.t >= sol.t_events[0][-2]
    np.testing.assert_allclose(
        [pp.limit_cycle[:, 0].min(), pp.limit_cycle[:, 0].max()],
        [sol.y[0, last].min(), sol.y[0, last].max()],
        atol=1e-3,  # samples every 0.01 time units, where |dv/dt| ≤ ~0.1 near the extrema
    )
    # trajectories start where asked and cover t_max (thinned to <= 4000 samples)
    assert pp.trajectories[0][0] == pytest.approx([-2.0, -0.5])
    assert (len(pp.trajectories[0]) - 1) * pp.t_sample == pytest.approx(60.0)
    assert len(pp.trajectories[0]) <= 4001


# slow tier: a four-variable plane with Newton-slaved gates at every grid point (32 s
# measured)
@pytest.mark.slow
def test_hh_plane_slaves_the_other_gates():
    """HH in (v, n): m and h sit at m∞(V), h∞(V); the v-nullcline is where the ionic
    current with those gates balances the injected current."""
    with jax.enable_x64(True):
        pp = na.phase_plane(
            HodgkinHuxley(e_l=-54.387),
            5.0,
            variables=("v", "n"),
            x_range=(-80.0, 20.0),
            y_range=(0.2, 0.8),
            limit_cycle=False,
            resolution=201,
        )
    assert pp.slaved == ("m", "h")
    line = np.concatenate(pp.x_nullcline)
    v, n = line[:, 0], line[:, 1]
    am, bm, ah, bh, _, _ = np.vectorize(hh_rates)(v)
    m, h = am / (am + bm), ah / (ah + bh)
    i_ion = 120.0 * m**3 * h * (v - 50.0) + 36.0 * n**4 * (v + 77.0) + 0.3 * (v + 54.387)
    # contour interpolation on a 0.5 mV × 0.003 grid; dv/dt varies by ~10² µA/cm² per
    # unit n, so a 1e-4 error in n is ~0.01-0.1 µA/cm²
    np.testing.assert_allclose(i_ion, 5.0, atol=0.2)
    # the n-nullcline is n = n∞(V); the contour interpolates linearly across 0.5 mV cells
    # where |n∞''| ≲ 1e-3/mV²: error ≲ h²|n∞''|/8 ≈ 3e-5 (measured 1.7e-5)
    line = np.concatenate(pp.y_nullcline)
    _, _, _, _, an, bn = np.vectorize(hh_rates)(line[:, 0])
    np.testing.assert_allclose(line[:, 1], an / (an + bn), atol=5e-5)
    # the full model's equilibrium (I = 5 < 9.78: stable) is on both nullclines
    (fp,) = pp.fixed_points
    assert fp.stable and fp.variables == ("v", "m", "h", "n")


def test_adex_trajectory_resets():
    """AdEx in (v, w), above rheobase: the trajectory's spikes reset V to v_reset and add
    b to w (the model's post_step is applied after each step)."""
    model = AdEx()
    pp = na.phase_plane(
        model, 2.0, trajectories=[(-70.6, 0.0)], t_max=40.0, dt=0.01, limit_cycle=False
    )
    assert pp.variables == ("v", "w")  # the refractory counter is left out
    path = pp.trajectories[0]
    assert pp.t_sample == 0.01  # every step kept
    resets = np.flatnonzero(np.diff(path[:, 0]) < -30.0)
    assert len(resets) >= 2
    jumps = path[resets + 1, 1] - path[resets, 1]
    # w jumps by b = 0.0805 nA, plus its continuous change over one step (|dw/dt| ≤
    # |a(V − E_L) − w|/τ_w ≤ 0.3/144 nA/ms → < 3e-5 nA in 0.01 ms)
    np.testing.assert_allclose(jumps, 0.0805, atol=3e-5)
    np.testing.assert_allclose(path[resets + 1, 0], -70.6, atol=0.1)


# slow tier: long simulations from a grid of starts to find the cycle (50 s measured); the
# FitzHugh-Nagumo plane tests keep phase planes and their limit cycles in the fast tier
@pytest.mark.slow
def test_phase_plane_finds_a_coexisting_limit_cycle_without_trajectories():
    """ReducedHH at 10 µA/cm²: a stable rest state and a stable limit cycle coexist (no
    unstable equilibrium to start from), so the cycle is only found from kicks off rest.
    Its period is checked against scipy (LSODA, rtol 1e-9) from the same start."""
    from test_analysis_cycles import reduced_hh_numpy

    from neurojax.neurons import ReducedHH

    model = ReducedHH()
    pp = na.phase_plane(model, 10.0, t_settle=100.0)
    (rest,) = pp.fixed_points
    assert rest.stable and pp.trajectories == []
    assert pp.limit_cycle is not None

    def up(t, y):
        return y[0]

    up.direction = 1
    sol = solve_ivp(
        reduced_hh_numpy(model, 10.0),
        (0, 200),
        pp.limit_cycle[0],
        method="LSODA",
        rtol=1e-9,
        atol=1e-9,
        max_step=0.1,
        events=up,
    )
    period = np.diff(sol.t_events[0])[-1]  # ≈ 12.64 ms
    # RK4 at dt = 0.01 ms, crossings interpolated linearly between samples: 1e-3
    # relative is ~0.01 ms, the sampling step (measured 1e-5)
    assert pp.period == pytest.approx(period, rel=1e-3)
    # the cycle spans a full spike (measured V from −75 to 44 mV)
    assert np.ptp(pp.limit_cycle[:, 0]) > 100.0
    # every axis carries its unit
    import matplotlib

    matplotlib.use("Agg")
    ax = pp.plot()
    assert ax.get_xlabel() == "V (mV)" and ax.get_ylabel() == "h (dimensionless)"
    assert "µA/cm²" in ax.get_title()
