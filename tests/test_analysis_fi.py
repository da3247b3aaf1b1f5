"""f–I curves against closed forms: LIF and QIF rates, the LIF's time to spike and V(t),
and the onset of firing at the saddle-node (EIF, class I) or Hopf point (HH, class II)."""

import jax
import numpy as np
import pytest

import neurojax as nj
import neurojax.analysis as na
from neurojax.neurons import EIF, LIF, QIF, HodgkinHuxley

DT = 0.01  # ms


def test_lif_rate_matches_the_closed_form():
    model = LIF()  # τ 10 ms, R 10 MΩ, −65 → −50 mV, reset −65 mV, t_ref 2 ms
    currents = np.linspace(0.0, 5.0, 26)
    fi = na.fi_curve(model, currents, duration=1000.0, transient=50.0, dt=DT)
    rate = na.lif_rate(model, currents)
    silent = currents <= 1.5  # rheobase (v_th − v_rest)/R = 1.5 nA
    assert np.all(fi.rate[silent] == 0) and np.all(rate[silent] == 0)
    # with exponential Euler (exact for the LIF) the simulated ISI is the analytic one
    # rounded up to the step grid: 0 <= ISI_sim − ISI <= dt (+ float32 rounding of t)
    isi_sim, isi = 1000.0 / fi.rate[~silent], 1000.0 / rate[~silent]
    assert np.all(isi_sim - isi > -1e-4) and np.all(isi_sim - isi < DT + 1e-4)
    # e.g. 2 nA: 63.04 Hz analytic, 63.01 Hz simulated
    assert rate[currents == 2.0] == pytest.approx(1000.0 / (2.0 + 10.0 * np.log(20.0 / 5.0)))


def test_lif_time_to_spike_and_voltage():
    model = LIF()
    currents = np.array([1.6, 2.0, 3.0])
    fi = na.fi_curve(model, currents, duration=100.0, transient=0.0, dt=DT)
    t_an = na.lif_time_to_spike(model, currents)  # τ ln(RI/(RI − 15 mV)) from rest
    # the spike is registered at the end of the step that crosses: within one step
    assert np.all(fi.first_spike - t_an > -1e-4) and np.all(fi.first_spike - t_an < DT + 1e-4)
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
    currents = np.array([0.6, 0.8, 1.0, 1.5, 2.0])
    c = r * (currents - i_rh)
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
    isi_sim = 1000.0 / fi.rate
    assert np.all(isi_sim - isi > -1e-3) and np.all(isi_sim - isi < DT + 1e-3)
    assert na.fi_curve(model, [i_rh - 0.01], duration=500.0, dt=DT).rate[0] == 0.0


def test_class_one_and_class_two_onset():
    """Hodgkin's classes: the EIF starts firing at its saddle-node (rheobase, found by
    continuation) at arbitrarily low rates (class I); HH jumps from rest to ~50 Hz at its
    subcritical Hopf point (class II)."""
    eif = EIF()
    diagram = na.bifurcation_diagram(eif, 0.0, 2.0, v_range=(-100.0, -31.0))
    (fold,) = diagram.folds
    # closed form (v_t − v_rest − Δ_T)/R = (−50 + 65 − 2)/10 (Fourcaud-Trocmé et al. 2003)
    assert fold.parameter == pytest.approx(1.3, rel=1e-6)  # float32 parameters
    assert fold.v == pytest.approx(-50.0, abs=1e-4)  # V = v_t at the saddle-node
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
