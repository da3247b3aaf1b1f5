"""The leaky integrate-and-fire neuron against its closed-form solution.

Under a constant current I, from V(0) = v_rest (Gerstner et al. 2014, *Neuronal Dynamics*
§1.3):

    V(t) = v_rest + R·I·(1 − e^(−t/τ))                       (below threshold)
    T_isi = t_ref + τ·ln(R·I / (R·I − (v_th − v_rest)))      (v_reset = v_rest)

and no spike at all below the rheobase I_th = (v_th − v_rest)/R = 1.5 nA (defaults).
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj

# The defaults of nj.LIF: mV, ms, MΩ, nA.
V_REST, V_TH, R, TAU, T_REF = -65.0, -50.0, 10.0, 10.0, 2.0
DT = 0.1
RHEOBASE = (V_TH - V_REST) / R  # 1.5 nA

# Suprathreshold currents (nA) whose time to threshold, in steps, is at least 0.03 step
# away from an integer for both solvers (checked in `_time_to_threshold`), so that float32
# rounding of V (≈ 1e-5 mV, i.e. < 1e-3 ms at the slowest crossing, 0.05 mV/ms) cannot move
# a threshold crossing to the neighbouring grid point.
CURRENTS = np.array([1.55, 1.6, 1.8, 2.0, 2.5, 3.0, 4.5, 6.0, 10.0])


def analytic_v(t, current):
    return V_REST + R * current * (1.0 - np.exp(-t / TAU))


def analytic_isi(current):
    return T_REF + TAU * np.log(R * current / (R * current - (V_TH - V_REST)))


def _time_to_threshold(current, tau_eff):
    """Free-run time from v_reset to v_th (ms) for an exponential approach with time
    constant `tau_eff`, and a guard that it is not within rounding of a grid point."""
    t = tau_eff * np.log(R * current / (R * current - (V_TH - V_REST)))
    steps = t / DT
    assert np.all(np.abs(steps - np.round(steps)) > 0.03), "choose currents off the grid"
    return t


def _first_spike_index(spikes):
    """Index of the first spike in each column of a (n_steps, N) 0/1 array."""
    return np.argmax(spikes > 0, axis=0)


def _population_run(solver, currents, duration, dtype_check=None):
    n = int(round(duration / DT))
    inputs = jnp.broadcast_to(jnp.asarray(currents), (n, len(currents)))
    sol = nj.simulate(nj.LIF(), inputs, dt=DT, solver=solver)
    if dtype_check is not None:
        assert sol.v.dtype == dtype_check
    t = np.asarray(sol.t, dtype=np.float64)
    return t, np.asarray(sol.v, dtype=np.float64), np.asarray(sol.spikes, dtype=np.float64)


SUBTHRESHOLD = np.array([0.0, 0.5, 1.0, 1.4, 1.49])


def test_subthreshold_exponential_euler_is_exact_float64(x64):
    t, v, spikes = _population_run(nj.ExponentialEuler(), SUBTHRESHOLD, 100.0, jnp.float64)
    err = np.abs(v - analytic_v(t[:, None], SUBTHRESHOLD)).max()
    # Exponential Euler is the exact flow of a linear ODE, so only rounding remains: a few
    # ulp(65 mV) per step (4·1.4e-14), contracted by e^(−dt/τ) each step, accumulates to at
    # most 4·ulp/(1 − e^(−dt/τ)) ≈ 6e-12 mV (measured: ~4e-14).
    tol = 4 * np.spacing(65.0) / (1 - math.exp(-DT / TAU))
    assert err < tol, err
    assert spikes.sum() == 0


def test_subthreshold_exponential_euler_float32():
    t, v, spikes = _population_run(nj.ExponentialEuler(), SUBTHRESHOLD, 100.0, jnp.float32)
    err = np.abs(v - analytic_v(t[:, None], SUBTHRESHOLD)).max()
    # The same rounding argument in float32: 4·ulp(65 mV)/(1 − e^(−dt/τ)) ≈ 3e-3 mV. It
    # also bounds the stall near the fixed point, where an update smaller than half an ulp
    # is rounded away (measured: 2.8e-5 mV).
    tol = 4 * float(np.spacing(np.float32(65.0))) / (1 - math.exp(-DT / TAU))
    assert err < tol, err
    assert spikes.sum() == 0


def test_subthreshold_euler_is_first_order(x64):
    """Forward Euler on τV' = −(V − v_rest) + RI gives exactly
    V_n = v_rest + RI(1 − (1 − dt/τ)^n): its error to the analytic solution is
    RI·max_n|e^(−n·h) − (1 − h)^n| ≈ RI·h/(2e), h = dt/τ, i.e. first order in dt."""
    current = np.array([1.0, 1.49])
    errors = []
    for dt in (DT, DT / 2):
        n = int(round(100.0 / dt))
        sol = nj.simulate(
            nj.LIF(), jnp.broadcast_to(jnp.asarray(current), (n, 2)), dt=dt, solver=nj.Euler()
        )
        v = np.asarray(sol.v)
        steps = np.arange(1, n + 1)[:, None]
        discrete = V_REST + R * current * (1 - (1 - dt / TAU) ** steps)
        # The solver reproduces its own closed form to float64 rounding (see above).
        assert np.abs(v - discrete).max() < 4 * np.spacing(65.0) * TAU / dt
        err = np.abs(v - analytic_v(np.asarray(sol.t)[:, None], current)).max(axis=0)
        # Leading-order bound RI·h/(2e); the next term is O(h²) relative to it, h = 0.01,
        # covered by the factor (1 + 2h).
        h = dt / TAU
        assert np.all(err <= R * current * h / (2 * math.e) * (1 + 2 * h)), err
        assert np.all(err > 0.9 * R * current * h / (2 * math.e))  # and not smaller: O(dt)
        errors.append(err)
    ratio = errors[0] / errors[1]
    # First order: halving dt halves the error, up to the O(h) = 1% correction.
    np.testing.assert_allclose(ratio, 2.0, rtol=0.02)


def test_first_rise_and_first_spike(x64):
    """Suprathreshold: V follows the analytic rise up to the first spike, which is reported
    at the first grid point at or after the analytic crossing time."""
    t, v, spikes = _population_run(nj.ExponentialEuler(), CURRENTS, 40.0)
    t_cross = _time_to_threshold(CURRENTS, TAU)
    first = _first_spike_index(spikes)
    assert np.all(spikes[first, np.arange(len(CURRENTS))] == 1)
    # Detection at grid points: t_cross ≤ t_spike < t_cross + dt.
    t_spike = t[first]
    assert np.all(t_spike >= t_cross) and np.all(t_spike < t_cross + DT), t_spike - t_cross
    for j, current in enumerate(CURRENTS):
        rise = slice(0, first[j])
        err = np.abs(v[rise, j] - analytic_v(t[rise], current)).max()
        assert err < 4 * np.spacing(65.0) / (1 - math.exp(-DT / TAU)), (current, err)
        # At the spike V is reset.
        assert v[first[j], j] == V_REST


@pytest.mark.parametrize("solver", [nj.ExponentialEuler(), nj.Euler()], ids=["expeuler", "euler"])
def test_firing_rate_matches_formula(solver):
    """f–I curve of a population (inputs shaped (n_steps, N)) in float32 against
    1/(t_ref + τ·ln(RI/(RI − (v_th − v_rest)))).

    Discrete time: the refractory hold lasts round(t_ref/dt) = 20 whole steps (exact here)
    and a spike is detected at the first grid point past the crossing, so each ISI is the
    analytic one rounded *up* to the grid: T ≤ ISI < T + dt, i.e. the rate lies in
    (1/(T + dt), 1/T]. For Euler the free rise has the effective time constant
    τ_E = −dt/ln(1 − dt/τ) (its exact discrete solution), which shortens T by
    ≈ T_free·dt/(2τ) ≤ 0.14 ms here, plus the same grid rounding.
    """
    t, v, spikes = _population_run(solver, CURRENTS, 300.0, jnp.float32)
    period = analytic_isi(CURRENTS)
    tau_eff = TAU if isinstance(solver, nj.ExponentialEuler) else -DT / math.log(1 - DT / TAU)
    # The exact discrete-time ISI of each scheme.
    isi_grid = DT * (round(T_REF / DT) + np.ceil(_time_to_threshold(CURRENTS, tau_eff) / DT))
    for j, current in enumerate(CURRENTS):
        times = t[spikes[:, j] > 0]
        assert len(times) >= 8, current  # enough ISIs for the check to mean something
        isi = np.diff(times)
        # float32 spike times t = dt·k near 300 ms are rounded by ≤ 3e-5 ms.
        np.testing.assert_allclose(isi, isi_grid[j], atol=1e-4)
        rate = 1.0 / isi.mean()
        if isinstance(solver, nj.ExponentialEuler):
            # At most one step late per ISI (rate from the mean ISI, so spike count edge
            # effects do not enter), with the float32 time rounding as slack.
            assert 1.0 / (period[j] + DT + 1e-4) < rate <= 1.0 / (period[j] - 1e-4), current
        else:
            # Euler: grid rounding (< dt) plus its time-constant error (≤ T_free·dt/(2τ)·1.02).
            t_free = period[j] - T_REF
            slack = DT + t_free * DT / (2 * TAU) * 1.02
            assert abs(1.0 / rate - period[j]) < slack, current


@pytest.mark.parametrize("solver", [nj.ExponentialEuler(), nj.Euler()], ids=["expeuler", "euler"])
def test_no_spikes_below_rheobase(solver):
    """Below I_th = 1.5 nA the fixed point v_rest + RI lies under threshold (both schemes
    keep the fixed point and approach it monotonically for dt < τ): no spike ever."""
    t, v, spikes = _population_run(solver, SUBTHRESHOLD, 500.0)
    assert spikes.sum() == 0
    assert np.all(v < V_TH)
    # After 50 τ the neuron sits at its fixed point, up to float32 stalling: an update
    # dt/τ·(V − V*) smaller than half an ulp of V is rounded away, so V may stop as far as
    # ulp/(2·dt/τ) = 50 ulp(65 mV) ≈ 4e-4 mV from V* (measured: 25 ulp).
    stall = float(np.spacing(np.float32(65.0))) / (2 * (1 - math.exp(-DT / TAU)))
    np.testing.assert_allclose(v[-1], V_REST + R * SUBTHRESHOLD, rtol=0, atol=stall)
    assert np.all(SUBTHRESHOLD < RHEOBASE)


def test_refractory_hold():
    """After each spike V is held at exactly v_reset for round(t_ref/dt) steps, then rises."""
    t, v, spikes = _population_run(nj.ExponentialEuler(), np.array([5.0]), 50.0)
    hold = round(T_REF / DT)
    for k in np.flatnonzero(spikes[:, 0])[:-1]:
        np.testing.assert_array_equal(v[k : k + hold + 1, 0], V_REST)
        assert v[k + hold + 1, 0] > V_REST
