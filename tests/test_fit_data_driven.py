"""`neurojax.fitting.conductances_from_voltage`: maximal conductances from a recorded
voltage trace by non-negative least squares (Huys, Ahrens & Paninski 2006), and `fit`
started from that estimate.

The estimator is never given the true conductances: it receives a model with wrong ones
(which it must ignore) and the recording; the truth only scores the result.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import Plain, conductances_from_voltage, fit
from neurojax.fitting import _data_driven as dd

TRUTH = np.array([120.0, 36.0, 0.3])  # g_na, g_k, g_l of NEURON's hh, mS/cm²
DT = 0.025


def g_of(m):
    return np.array([float(m.g_na), float(m.g_k), float(m.g_l)])


def step_current(dt, duration=60.0, amp=10.0, on=5.0, off=55.0):
    t = dt * np.arange(int(round(duration / dt)))
    return np.where((t >= on) & (t < off), amp, 0.0)[:, None]


def hh_recording(dt_sim=DT, solver=None):
    """One 60 ms sweep, 10 µA/cm² from 5 to 55 ms (4 spikes), simulated by neurojax at
    `dt_sim` (with `solver`; default: HH's) and sampled every `DT` ms (row i at the end of
    step i, as `Solution.v`)."""
    current = step_current(dt_sim)
    sol = nj.simulate(nj.HodgkinHuxley(), jnp.asarray(current), dt=dt_sim, solver=solver)
    sub = int(round(DT / dt_sim))
    return np.asarray(sol.v)[sub - 1 :: sub], current[::sub], int(np.asarray(sol.spikes).sum())


WRONG = dict(g_na=60.0, g_k=54.0, g_l=0.15)  # -50 %, +50 %, -50 %: ignored by the estimator


@pytest.mark.slow  # quadrature-order study over several dt in float64
def test_noise_free_recovery_and_discretisation_error(x64):
    """Discretisation of the regression (the first stage, `_refine=False`): it integrates
    the current balance over each sampling step with the trapezoidal rule (local error
    O(dt³), global O(dt²)); the one-sided (left-endpoint = forward-Euler dV/dt) rule is
    O(dt). Measured on a recording that is itself accurate (RK4 at dt 0.005, sampled at
    0.025: the same to 1e-6 relative at dt 0.0025), so the regression's own error shows:
    trapezoid 1.3e-3, 1.0e-3, 3.6e-3 (g_na, g_k, g_l); one-sided 3.4e-3, 1.1e-3, 0.13 —
    the leak, the smallest current, takes the O(dt) error. Tolerance 5e-3. (Recorded by
    ExponentialRK2 at dt 0.005, as before, the recording's own error cancelled part of
    the regression's: 4e-4, 1e-4, 7e-4.)

    On neurojax's own simulation at dt 0.025 (HH's default, `Staggered`, second order) the
    recording is the *solver's* trajectory, not the ODE's: the regression alone is then
    0.8 %, 0.9 %, 3.3 % low (ExponentialRK2: 1.9 %, 2.0 %, 6.1 %), the solver's O(dt²)
    error. The estimate `conductances_from_voltage` returns is made consistent with the
    solver (its bias measured on the solver's own trace and removed): exact on that
    recording (measured 9e-14, 8e-14, 1.3e-13; tolerance 1e-9), and on the accurate
    recording it carries the solver's error instead (measured +0.9 %, +1.0 %, +3.8 %;
    ExponentialRK2 +2.2 %, +2.2 %, +6.8 %: the conductances with which the solver at
    dt 0.025 reproduces the true ODE's trace best — what `fit` converges to)."""
    v, current, n_spikes = hh_recording(0.005, nj.RK4())
    assert n_spikes == 4
    model = nj.HodgkinHuxley(**WRONG)
    central = g_of(conductances_from_voltage(model, v, current, DT, _refine=False)) / TRUTH - 1
    one_sided = g_of(
        dd.conductances_from_voltage(model, v, current, DT, _one_sided=True, _refine=False)
    )
    one_sided = one_sided / TRUTH - 1
    print("trapezoid", central, "one-sided", one_sided)
    np.testing.assert_array_less(np.abs(central), 5e-3)
    assert abs(one_sided[2]) > 10 * abs(central[2])  # O(dt) vs O(dt²)
    consistent = g_of(conductances_from_voltage(model, v, current, DT)) / TRUTH - 1
    print("solver-consistent, accurate recording", consistent)
    np.testing.assert_array_less([0.004, 0.004, 0.015], consistent)  # ~half the measured
    np.testing.assert_array_less(consistent, [0.02, 0.02, 0.08])  # ~twice

    v, current, _ = hh_recording(DT)
    regression = g_of(conductances_from_voltage(model, v, current, DT, _refine=False))
    regression = regression / TRUTH - 1
    rel = g_of(conductances_from_voltage(model, v, current, DT)) / TRUTH - 1
    print("dt 0.025 recording: regression", regression, "solver-consistent", rel)
    np.testing.assert_array_less(np.abs(regression), [0.03, 0.03, 0.08])
    np.testing.assert_array_less(np.abs(rel), 1e-9)
    # two sweeps at once (the same sweep twice) give the same estimate
    rel2 = g_of(conductances_from_voltage(model, np.tile(v, 2), np.tile(current, 2), DT))
    np.testing.assert_allclose(rel2 / TRUTH - 1, rel, atol=1e-6)


@pytest.mark.slow  # a second solver compiled for the same estimate
def test_estimate_is_consistent_with_the_solver_passed(x64):
    """`solver=`: on a trace simulated with `ExponentialEuler` (first order) the estimate
    made consistent with that solver is exact, and differs from the one consistent with
    the default solver by that solver's error."""
    current = step_current(DT)
    sol = nj.simulate(nj.HodgkinHuxley(), jnp.asarray(current), dt=DT, solver=nj.ExponentialEuler())
    v = np.asarray(sol.v)
    model = nj.HodgkinHuxley(**WRONG)
    rel = g_of(conductances_from_voltage(model, v, current, DT, solver=nj.ExponentialEuler()))
    np.testing.assert_array_less(np.abs(rel / TRUTH - 1), 1e-9)
    other = g_of(conductances_from_voltage(model, v, current, DT)) / TRUTH - 1
    assert np.max(np.abs(other)) > 1e-3


@pytest.mark.slow  # a second model; HH's estimate stays in the fast tier
def test_morris_lecar(x64):
    """A different model and different conductances (g_ca, g_k, g_l); same machinery. On
    an accurate recording (dt 0.005, sampled at 0.025) the regression is within 2e-3; the
    estimate made consistent with the solver at dt 0.025 carries that solver's error
    instead (measured g_l −0.21 %), within 1e-2."""
    truth = nj.MorrisLecar()
    current = step_current(0.005, duration=300.0, amp=100.0, off=295.0)
    sol = nj.simulate(truth, jnp.asarray(current), dt=0.005)
    v = np.asarray(sol.v)[4::5]
    for refine, tol in ((False, 2e-3), (True, 1e-2)):
        est = conductances_from_voltage(
            nj.MorrisLecar(g_ca=2.0, g_k=4.0, g_l=1.0),
            v,
            current[::5],
            DT,
            trainable=lambda m: (m.g_ca, m.g_k, m.g_l),
            _refine=refine,
        )
        for name in ("g_ca", "g_k", "g_l"):
            assert abs(float(getattr(est, name)) / float(getattr(truth, name)) - 1) < tol, name


# slow tier: noise study; tests/test_fit_lm.py checks the noise estimate and window in the fast tier
@pytest.mark.slow
def test_measurement_noise(x64):
    """1 mV Gaussian noise on V. Per step the noise of c_m·ΔV is √2·c_m·σ = 1.4 µA·ms/cm²
    against a signal dt·I_ion of ~0.1 between spikes: a one-step dV/dt is mostly noise
    (σ/dt = 40 mV/ms). That noise is in the left-hand side only, so it costs precision,
    not accuracy. The noise of V *inside* the regressors — the driving forces, and the
    gates integrated along the noisy V (m³, n⁴ are convex) — biases the estimate low
    (errors in variables, amplified by the near-collinear columns). Integrating the
    balance over 0.5 ms windows (window=20) averages the driving-force noise ~20-fold
    while the signal adds up. Measured over 16 seeds with the regression alone (including
    the -2 % of the solver, test above): window 1: g_na -8.2 ± 1.8 %, g_k -7.7 ± 1.5 %,
    g_l -33 ± 9 %; window 20: -4.3 ± 2.5 %, -4.4 ± 2.4 %, -15 ± 11 % (window 10 the same,
    40 worse). The estimate made consistent with the solver removes the solver's part
    (over these 8 seeds: window 1 -6.0 ± 1.7 %, -6.1 ± 1.8 %, -28 ± 10 %; window 20
    -2.3 ± 2.6 %, -3.0 ± 2.7 %, -9 ± 12 %).
    The leak (0.3 of 156 mS/cm²) is the least constrained. Asserted over 8 seeds:
    window 20, mean g_na and g_k within 7 %, g_l within 30 %, and closer than window 1 —
    a start for `fit`, whose trace MSE is not biased by white noise."""
    v, current, _ = hh_recording(DT)
    rng = np.random.default_rng(0)
    model = nj.HodgkinHuxley(**WRONG)
    noises = [rng.normal(0, 1, v.shape) for _ in range(8)]
    rel = {}
    for window in (1, 20):
        est = [
            g_of(conductances_from_voltage(model, v + e, current, DT, window=window))
            for e in noises
        ]
        rel[window] = np.array(est) / TRUTH - 1
        print(f"noisy, window {window}: mean", rel[window].mean(0), "std", rel[window].std(0))
    np.testing.assert_array_less(np.abs(rel[20].mean(0)), [0.07, 0.07, 0.30])
    assert np.all(np.abs(rel[20].mean(0)) < np.abs(rel[1].mean(0)))


START_DRAWS = [
    dict(g_na=60.0, g_k=54.0, g_l=0.15),
    dict(g_na=168.0, g_k=18.0, g_l=0.45),
    dict(g_na=180.0, g_k=40.0, g_l=0.2),
]


def test_estimate_does_not_depend_on_the_start():
    """Issue 11's failing scenario (plain `fit` from ±50 % starts stalled in local minima on
    this sweep): the data-driven regression does not depend on the start at all (the
    same to 1e-5 from three starts) and lies within the solver's own discretisation error
    of the truth (measured −1.9 %, −2.0 %, −6.1 %: the slow test above; bounds 3, 3, 8 %).
    Fast tier: the regression alone (`_refine=False`); its consistency with the solver
    (exact on the solver's trace) is the slow tests' — and runs in the fast tier in
    tests/test_demo.py, whose default fit starts from it."""
    v, current, _ = hh_recording(DT)
    ests = [
        g_of(conductances_from_voltage(nj.HodgkinHuxley(**s), v, current, DT, _refine=False))
        for s in START_DRAWS
    ]
    np.testing.assert_allclose(ests[1], ests[0], rtol=1e-5)
    np.testing.assert_allclose(ests[2], ests[0], rtol=1e-5)
    np.testing.assert_array_less(np.abs(ests[0] / TRUTH - 1), [0.03, 0.03, 0.08])


@pytest.mark.slow  # a 25-step HH fit; the estimate itself is checked in the fast tier above
def test_fit_from_data_driven_start_converges():
    """On the solver's own float32 recording the estimate made consistent with the solver
    is the truth to the rounding of its Newton refinement (measured 2.6e-4, 2.3e-4,
    8.6e-4; tolerance 2e-3), the same from every start, and `fit` started from it
    converges to the truth to 1e-3 relative (float32;
    measured 4e-4 in 25 steps, ~18 s). On this very sweep, plain `fit` (defaults, 100
    steps allowed) from the first two starts of `START_DRAWS` stops (patience) at
    g = (76, 34, 0.15) and (100, 15, 0.63): measured, not asserted here."""
    v, current, _ = hh_recording(DT)
    ests = [
        g_of(conductances_from_voltage(nj.HodgkinHuxley(**s), v, current, DT))
        for s in START_DRAWS[:2]
    ]
    np.testing.assert_allclose(ests[1], ests[0], rtol=1e-5)
    np.testing.assert_array_less(np.abs(ests[0] / TRUTH - 1), 2e-3)
    est = conductances_from_voltage(nj.HodgkinHuxley(**START_DRAWS[0]), v, current, DT)
    res = fit(
        est,
        jnp.asarray(current),
        jnp.asarray(v),
        dt=DT,
        trainable=lambda m: (m.g_na, m.g_k, m.g_l),
        steps=25,
        strategy=Plain(),  # polish this very start (the default Auto() would re-estimate it)
        progress_meter=nj.NoProgress(),
    )
    rel = g_of(res.model) / TRUTH - 1
    print("fit from data-driven start:", rel, res.n_steps, "steps")
    np.testing.assert_array_less(np.abs(rel), 1e-3)


def test_nnls_exact():
    """The NNLS against the KKT conditions on a problem whose optimum has an active bound."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 4))
    b = a @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.01 * rng.normal(size=50)
    x = np.asarray(dd._nnls(jnp.asarray(a), jnp.asarray(b)))
    grad = a.T @ (a @ x - b)
    assert np.all(x >= 0) and x[1] == 0
    np.testing.assert_allclose(grad[x > 0], 0, atol=1e-3)
    assert np.all(grad[x == 0] >= 0)


# ------------------------------------------------------------------- errors


def test_errors():
    v, current, _ = hh_recording(DT)
    hh = nj.HodgkinHuxley()
    bad = v.copy()
    bad[100, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        conductances_from_voltage(hh, bad, current, DT)
    with pytest.raises(ValueError, match="shape"):
        conductances_from_voltage(hh, v, current[:-1], DT)
    with pytest.raises(ValueError, match="n_steps"):
        conductances_from_voltage(hh, v[:, :, None], current, DT)
    with pytest.raises(TypeError, match="conductance-based"):
        conductances_from_voltage(nj.LIF(), v, current, DT, trainable=lambda m: (m.tau,))
    with pytest.raises(ValueError, match="not linear"):
        conductances_from_voltage(hh, v, current, DT, trainable=lambda m: (m.g_na, m.e_na))
    with pytest.raises(ValueError, match="does not enter"):
        conductances_from_voltage(hh, v, current, DT, trainable=lambda m: (m.g_na, m.c_m))
    with pytest.raises(ValueError, match="window"):
        conductances_from_voltage(hh, v, current, DT, window=0)
    with pytest.raises(ValueError, match="dt"):
        conductances_from_voltage(hh, v, current, -1.0)
