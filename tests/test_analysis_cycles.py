"""Limit cycles by simulation: coexistence of a stable rest state and a stable limit cycle
(bistability) in the reduced and the full HH model, checked against scipy."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import neurojax.analysis as na
from neurojax.neurons import FitzHughNagumo, HodgkinHuxley, ReducedHH


def reduced_hh_numpy(model, current):
    """The reduced HH vector field written again in numpy (m = m∞(V), n = h_plus_n − h),
    with the model's parameter values."""
    g_na, g_k, g_l, e_na, e_k, e_l, hpn = (
        float(getattr(model, k)) for k in ("g_na", "g_k", "g_l", "e_na", "e_k", "e_l", "h_plus_n")
    )

    def f(t, y):
        v, h = y
        am = 0.1 * (-(v + 40.0)) / (np.exp(-(v + 40.0) / 10.0) - 1.0)
        bm = 4.0 * np.exp(-(v + 65.0) / 18.0)
        ah = 0.07 * np.exp(-(v + 65.0) / 20.0)
        bh = 1.0 / (np.exp(-(v + 35.0) / 10.0) + 1.0)
        m = am / (am + bm)
        n = min(max(hpn - h, 0.0), 1.0)
        i_ion = g_na * m**3 * h * (v - e_na) + g_k * n**4 * (v - e_k) + g_l * (v - e_l)
        return [current - i_ion, ah * (1 - h) - bh * h]

    return f


def _lsoda(f, t_end, y0):
    return solve_ivp(f, (0, t_end), y0, method="LSODA", rtol=1e-9, atol=1e-9, max_step=0.5)


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
