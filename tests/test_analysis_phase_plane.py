"""Analyses by simulation: phase planes (nullclines against their closed forms, limit
cycles against scipy), limit cycles by hysteresis sweeps (`limit_cycles`), and f–I curves
against closed forms (LIF, QIF) and the onset classes (EIF, HH).

Sections below come from the former test_analysis_cycles.py and test_analysis_fi.py (one
file: one process and one set of compiled programs in the fast tier's per-file cost).
"""

import jax
import numpy as np
import pytest
from analysis_references import hh_rates, reduced_hh_numpy
from scipy.integrate import solve_ivp

import neurojax as nj
import neurojax.analysis as na
from neurojax.neurons import EIF, LIF, QIF, AdEx, FitzHughNagumo, HodgkinHuxley, ReducedHH


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


# slow tier: AdEx's phase-plane programs compile for ~3 s; the fast tier keeps FitzHugh–Nagumo's
# plane (nullclines, limit cycle) and the reset path of the LIF's equilibria (contract)
@pytest.mark.slow
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
    from analysis_references import reduced_hh_numpy

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


# ======================================================================================
# (was tests/test_analysis_cycles.py)
# Limit cycles by simulation: coexistence of a stable rest state and a stable limit cycle
# (bistability) in the reduced and the full HH model, checked against scipy.


def _lsoda(f, t_end, y0):
    return solve_ivp(f, (0, t_end), y0, method="LSODA", rtol=1e-9, atol=1e-9, max_step=0.5)


# slow tier: validation against scipy (three LSODA runs) after a phase plane and a sweep of
# 14 currents both ways; the fast tier keeps limit_cycles on FitzHugh–Nagumo below
@pytest.mark.slow
def test_reduced_hh_bistability():
    """The reduced HH (`ReducedHH`) has a band of currents where a stable rest state and a
    stable limit cycle coexist. It is found by sweeping the current up from rest and back
    down from a point of the limit cycle at the top current: the band is where the sweeps
    disagree. Its edges are then checked with scipy."""
    model = ReducedHH()
    # a point on the limit cycle at I = 10 µA/cm², from a depolarised start
    pp = na.phase_plane(model, 10.0, trajectories=[(-40.0, 0.3)], t_max=20.0, t_settle=100.0)
    assert pp.limit_cycle is not None
    step = 1.0
    values = np.arange(-3.0, 10.01, step)
    lc = na.limit_cycles(
        model,
        values,
        sweep=na.Sweep.BOTH,
        down_state0=pp.limit_cycle[0],
        transient=150.0,
        window=60.0,
    )
    (band,) = lc.bistable
    lo, hi = band
    inside = (values >= lo) & (values <= hi)
    assert not lc.up.oscillating[inside].any() and lc.down.oscillating[inside].all()
    # measured: with the default h_plus_n = 0.855 the rest state never loses stability
    # (no Hopf point, so the up sweep never fires) and the cycle exists down to
    # I ≈ -1.75 µA/cm² (period ~20 ms there, 12.6 ms at 10): on this grid, from -1
    assert lo == -1.0 and hi == 10.0
    # a stable rest state throughout the band (the equilibria, independently of simulation)
    for current in (lo, 0.5 * (lo + hi), hi):
        (rest,) = na.fixed_points(model, current)
        assert rest.stable

    # independent check with scipy (LSODA, rtol 1e-9): at the band's lower edge the cycle
    # persists; one grid step below, the same start (the spike's peak) decays to rest
    on = _lsoda(reduced_hh_numpy(model, lo), 400.0, pp.limit_cycle[0])
    late = on.t > 300.0
    assert np.ptp(on.y[0, late]) > 100.0  # full spikes after 400 ms
    peak = on.y[:, late][:, np.argmax(on.y[0, late])]
    below = _lsoda(reduced_hh_numpy(model, lo - step), 400.0, peak)
    assert np.ptp(below.y[0, below.t > 300.0]) < 1.0
    # and inside the band, a small kick off rest decays: the two attractors coexist
    rest = na.fixed_points(model, 0.0)[0]
    kicked = _lsoda(reduced_hh_numpy(model, 0.0), 300.0, [rest.v + 0.5, rest.state.h])
    assert np.ptp(kicked.y[0, kicked.t > 200.0]) < 0.01


@pytest.mark.slow
def test_hh_hysteresis_between_fold_of_cycles_and_hopf():
    """Full HH (E_L = −54.387 mV): repetitive firing starts at the subcritical Hopf point
    I ≈ 9.78 going up, and persists going down to the fold of limit cycles I ≈ 6.26
    (Rinzel & Miller 1980, Math Biosci 49:27)."""
    model = HodgkinHuxley(e_l=-54.387)
    lc = na.limit_cycles(model, np.arange(5.0, 11.01, 0.5), transient=200.0, window=60.0)
    p = lc.parameter
    assert p[lc.up.oscillating].min() == 10.0  # first value past the Hopf point
    assert p[lc.down.oscillating].min() == 6.5  # first value above the fold at 6.26
    assert lc.bistable == [(6.5, 9.5)]
    # period near the onset: ~14-18 ms (about 60 Hz, HH's minimum firing rate)
    assert 13.0 < np.nanmax(lc.down.period) < 19.0


def test_fitzhugh_nagumo_oscillates_between_its_hopf_points():
    """Relaxation oscillations fill the interval between FitzHugh–Nagumo's two Hopf points:
    on a 0.1 grid, the sweeps find a stable cycle exactly at the currents between them (the
    subcritical Hopf points' bistable slivers, ~1e-3 wide, fall between grid points)."""
    diagram = na.bifurcation_diagram(FitzHughNagumo(), 0.0, 2.0, v_range=(-3.0, 3.0), cycles=False)
    lc = na.limit_cycles(
        FitzHughNagumo(), np.linspace(0.0, 2.0, 21), dt=0.05, transient=300.0, window=150.0
    )
    low, high = (h.parameter for h in diagram.hopfs)  # 0.3313, 1.4187
    between = (lc.parameter > low) & (lc.parameter < high)
    np.testing.assert_array_equal(lc.up.oscillating, between)
    np.testing.assert_array_equal(lc.down.oscillating, between)
    # FitzHugh's period (dimensionless time) is ~36-46: slow recovery, τ = 12.5
    assert np.all((lc.up.period[between] > 35.0) & (lc.up.period[between] < 50.0))

    # the sweeps' repr says where they oscillate, as parameter ranges (not a count)
    assert repr(lc.up) == ("CycleBranch(up sweep, 21 values in [0, 2], oscillating at [0.4, 1.4])")


# ======================================================================================
# (was tests/test_analysis_fi.py)
# f–I curves against closed forms: LIF and QIF rates, the LIF's time to spike and V(t),
# and the onset of firing at the saddle-node (EIF, class I) or Hopf point (HH, class II).

DT = 0.01  # ms


@pytest.fixture(scope="module")
def lif_fi():
    """The LIF's f–I curve over 0-5 nA (one simulation, one compilation, for both tests)."""
    currents = np.linspace(0.0, 5.0, 26)
    return currents, na.fi_curve(LIF(), currents, duration=1000.0, transient=50.0, dt=DT)


def test_lif_rate_matches_the_closed_form(lif_fi):
    model = LIF()  # τ 10 ms, R 10 MΩ, −65 → −50 mV, reset −65 mV, t_ref 2 ms
    currents, fi = lif_fi
    rate = na.lif_rate(model, currents)
    silent = currents <= 1.5  # rheobase (v_th − v_rest)/R = 1.5 nA
    assert np.all(fi.rate[silent] == 0) and np.all(rate[silent] == 0)
    # with exponential Euler (exact for the LIF) the simulated ISI is the analytic one
    # rounded up to the step grid: 0 <= ISI_sim − ISI <= dt (+ float32 rounding of t)
    isi_sim, isi = 1000.0 / fi.rate[~silent], 1000.0 / rate[~silent]
    assert np.all(isi_sim - isi > -1e-4) and np.all(isi_sim - isi < DT + 1e-4)
    # e.g. 2 nA: 63.04 Hz analytic, 63.01 Hz simulated
    assert rate[currents == 2.0] == pytest.approx(1000.0 / (2.0 + 10.0 * np.log(20.0 / 5.0)))


def test_lif_time_to_spike_and_voltage(lif_fi):
    model = LIF()
    grid, fi = lif_fi
    above = grid > 1.5  # rheobase
    currents, first = grid[above], fi.first_spike[above]  # latency from onset (t = 0)
    t_an = na.lif_time_to_spike(model, currents)  # τ ln(RI/(RI − 15 mV)) from rest
    # the spike is registered at the end of the step that crosses: within one step
    assert np.all(first - t_an > -1e-4) and np.all(first - t_an < DT + 1e-4)
    assert np.all(np.isinf(fi.first_spike[~above]))
    assert na.lif_time_to_spike(model, 1.0) == np.inf  # never reaches threshold
    # V(t) below threshold: exponential relaxation towards v_rest + R·I
    n = 500
    sol = nj.simulate(model, np.full(n, 1.2), dt=DT)
    t = DT * np.arange(1, n + 1)
    np.testing.assert_allclose(sol.v, na.lif_voltage(model, 1.2, t), atol=1e-4)  # float32


def test_qif_rate_matches_the_closed_form():
    """T = τ/√(a₀c)·[arctan(√(a₀/c)(v_th − V_m)) − arctan(√(a₀/c)(v_reset − V_m))] + t_ref,
    V_m = (v_rest + v_c)/2, c = R(I − I_rh) (Latham et al. 2000; Gerstner et al. 2014 §5.3);
    written here from the formula, independently of the model code."""
    tau, a0, r, t_ref = 10.0, 0.1, 10.0, 2.0
    v_rest, v_c, v_reset, v_th = -65.0, -50.0, -65.0, -30.0
    i_rh = a0 * (v_c - v_rest) ** 2 / (4 * r)  # 0.5625 nA
    # the last current is just below rheobase: no spike (one simulation, one compilation)
    currents = np.array([0.6, 0.8, 1.0, 1.5, 2.0, i_rh - 0.01])
    c = r * (currents[:-1] - i_rh)
    v_m = 0.5 * (v_rest + v_c)
    k = np.sqrt(a0 / c)
    isi = tau / np.sqrt(a0 * c) * (np.arctan(k * (v_th - v_m)) - np.arctan(k * (v_reset - v_m)))
    isi += t_ref
    # float64: near rheobase V creeps through the bottleneck by ~4e-4 mV per step, which
    # float32 resolves to only ~1 % (measured ISI error 2 steps in float32)
    with jax.enable_x64(True):
        model = QIF()
        fi = na.fi_curve(model, currents, duration=2000.0, transient=100.0, dt=DT, solver=nj.RK4())
    # RK4's error is ~1e-6 ms here; the crossing is registered up to one step late
    isi_sim = 1000.0 / fi.rate[:-1]
    assert np.all(isi_sim - isi > -1e-3) and np.all(isi_sim - isi < DT + 1e-3)
    assert fi.rate[-1] == 0.0


def _eif_fold():
    diagram = na.bifurcation_diagram(EIF(), 0.0, 2.0, v_range=(-100.0, -31.0))
    (fold,) = diagram.folds
    return fold


# slow tier: the EIF's own equilibrium program compiles for ~4 s; the fast tier keeps the
# LIF/QIF rates here and the LIF's reset-limited equilibrium branch (test_analysis_contract)
@pytest.mark.slow
def test_eif_rheobase_is_its_saddle_node():
    """The EIF's saddle-node, found by continuation, at its closed-form rheobase."""
    fold = _eif_fold()
    # closed form (v_t − v_rest − Δ_T)/R = (−50 + 65 − 2)/10 (Fourcaud-Trocmé et al. 2003)
    assert fold.parameter == pytest.approx(1.3, rel=1e-6)  # float32 parameters
    assert fold.v == pytest.approx(-50.0, abs=1e-4)  # V = v_t at the saddle-node


# slow tier: Hodgkin's classes from two long f–I simulations (EIF 2 s, HH 500 ms): a
# published-behaviour demonstration; the fast tier keeps the LIF/QIF rates against their
# closed forms
@pytest.mark.slow
def test_class_one_and_class_two_onset():
    """Hodgkin's classes: the EIF starts firing at its saddle-node (rheobase, found by
    continuation) at arbitrarily low rates (class I); HH jumps from rest to ~50 Hz at its
    subcritical Hopf point (class II)."""
    eif = EIF()
    fold = _eif_fold()
    fi = na.fi_curve(
        eif, fold.parameter + np.array([-0.01, 0.001, 0.01, 0.1]), duration=2000.0, dt=0.05
    )
    assert fi.rate[0] == 0.0
    # measured 1.6, 5.0 and 15.9 Hz: the rate vanishes at the saddle-node like
    # √(I − I_rh) (ratios √10 = 3.2; measured 3.1 and 3.2)
    assert 0.0 < fi.rate[1] < 2.5 and fi.rate[1] < fi.rate[2] < fi.rate[3]
    np.testing.assert_allclose(fi.rate[2:] / fi.rate[1:3], np.sqrt(10.0), rtol=0.1)

    hh = HodgkinHuxley(e_l=-54.387)
    # below the fold of limit cycles (6.26) and above the Hopf point (9.78); in between a
    # current step from rest may or may not start firing (bistability)
    currents = np.array([6.0, 10.5, 12.0])
    fi = na.fi_curve(hh, currents, duration=500.0, transient=200.0, dt=0.02)
    assert fi.rate[0] == 0.0
    # measured 69.5 and 72.9 Hz: HH never fires slower than ~50 Hz at 6.3 °C
    assert np.all(fi.rate[1:] > 50.0)
