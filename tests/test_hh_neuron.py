"""`HodgkinHuxley` against NEURON, and how accurate the default solver is.

**Setup.** A single-compartment soma with NEURON's `hh` (rate tables off), 6.3 °C, from rest
at −65 mV, driven by a 10 µA/cm² step from t = 5 ms to 100 ms (7 spikes). NEURON 9.0.2 was
run with its default fixed step (`secondorder = 0`: backward Euler for V, gates staggered
by dt/2) and with `secondorder = 2` (Crank–Nicolson); the traces are committed in
`tests/data/hh_neuron_reference.npz`, written by `validation/make_neuron_reference.py`.
The converged reference is the same ODE written out again from `hh.mod` in NumPy and
integrated by SciPy's DOP853 at rtol = 1e-12 (it moves by < 1e-7 mV from rtol = 1e-10);
neurojax's RK4 at dt = 0.0025 ms agrees with it to 4e-7 mV and 1.4e-9 ms.

**Errors against the converged reference** (float64), each cell at dt = 0.05 / 0.025 /
0.0125 ms. Spike time: max |error| over the 7 upward 0-mV crossings, each located on the
cubic through the samples around it. V: RMS error over all samples of the 100 ms run.

| scheme                        | spike time (ms)          | V RMS (mV)           | order |
|-------------------------------|--------------------------|----------------------|-------|
| Staggered (our default)       | 0.12 / **0.029** / 0.0074| 2.4 / **0.62** / 0.16| 2     |
| ExponentialRK2                | 0.26 / **0.072** / 0.019 | 5.3 / **1.5** / 0.40 | 2     |
| NEURON default, secondorder=0 | 0.86 / **0.42** / 0.21   | 14 / **8.1** / 4.2   | 1     |
| NEURON secondorder=2 (CN)     | 0.059 / 0.015 / 0.0037   | 1.2 / 0.31 / 0.077   | 2     |
| ExponentialEuler              | 2.4 / 1.2 / 0.59         | 27 / 18 / 11         | 1     |
| Euler                         | 0.081 / 0.041 / 0.021    | 1.7 / 0.83 / 0.41    | 1     |
| RK4                           | 7e-5 / 6e-6 / 7e-7       | 7e-3 / 3e-4 / 2e-5   | 4     |

At dt = 0.025 ms the default (`Staggered`: NEURON's staggered scheme with exponential
updates for V and the gates) is 14× closer to the converged solution than NEURON's default
in spike times and 13× in V (the issue's requirement: at least as accurate; issue 18's aim
for the staggered scheme: within 0.05 ms), 2.5× closer than `ExponentialRK2`, and 2× as far
as NEURON's Crank–Nicolson, which staggers the same way (the two differ from each other by
0.015 ms). Exponential Euler (first order) is 3× *less* accurate than NEURON's default
there, hence a second-order default. Euler and RK4 are accurate at these steps but
unstable at dt = 0.1 ms (NaN), where the exponential schemes stay stable (spike-time error
after 90 ms: `Staggered` 0.46 ms, `ExponentialRK2` 0.88, exponential Euler 4.8; NEURON's
default 1.8 ms). Per step `Staggered` costs what exponential Euler does (one evaluation of
the rates), `ExponentialRK2` about 2× (`benchmarks/README.md`). In float32 the errors
are the same to 0.2% (`Staggered` 0.02932 ms, 0.6199 mV; `ExponentialRK2` 0.07202, 1.506).

Alignment: NEURON samples V at t = 0, dt, …; `Solution.v[i]` is V at `(i + 1)·dt`. NEURON
evaluates the IClamp at the step midpoint, so its current is on in the steps starting at
t ≥ 5 ms, as `stimuli.Step(start=5)` samples it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.solvers._exponential_rk2 import ExponentialRK2

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "hh_neuron_reference.npz"
DT = 0.025  # ms, NEURON's default step
DTS = (0.05, 0.025, 0.0125)  # ms


@pytest.fixture(scope="module", autouse=True)
def x64():
    # Errors down to 1e-9 ms are measured here, so every test in this module runs in float64.
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def data():
    with np.load(DATA) as f:
        return {k: f[k] for k in f.files}


def spike_times(t: np.ndarray, v: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Upward crossings of `threshold`, located on the cubic through the four samples
    around each crossing (error O(dt⁴), so the measure does not hide a solver's order)."""
    out = []
    for i in np.nonzero((v[:-1] < threshold) & (v[1:] >= threshold))[0]:
        j = min(max(i - 1, 0), len(v) - 4)
        h = t[i + 1] - t[i]
        roots = np.roots(np.polyfit((t[j : j + 4] - t[i]) / h, v[j : j + 4] - threshold, 3))
        roots = roots[(np.abs(roots.imag) < 1e-9) & (roots.real > -1e-9) & (roots.real < 1 + 1e-9)]
        linear = (threshold - v[i]) / (v[i + 1] - v[i])
        out.append(t[i] + h * roots.real[np.argmin(np.abs(roots.real - linear))])
    return np.array(out)


_cache: dict = {}


def run(data, dt: float, solver=None) -> tuple[np.ndarray, np.ndarray]:
    """neurojax's trace `(t, v)` at t = 0, dt, …, tstop (the initial value prepended, as
    NEURON records it); `solver=None` is the model's default."""
    key = (dt, type(solver).__name__)
    if key not in _cache:
        stim = nj.stimuli.Step(
            float(data["amplitude"]), start=float(data["delay"]), duration=float(data["tstop"])
        )
        sol = nj.simulate(nj.HodgkinHuxley(), stim, dt=dt, solver=solver)
        assert sol.v.dtype == jnp.float64
        t = np.concatenate([[0.0], np.asarray(sol.t)])
        v = np.concatenate([[float(nj.HodgkinHuxley().v_init)], np.asarray(sol.v)])
        _cache[key] = (t, v)
    return _cache[key]


def neuron(data, dt: float, secondorder: int) -> tuple[np.ndarray, np.ndarray]:
    v = data[f"neuron_so{secondorder}_dt{dt}"]
    return dt * np.arange(len(v)), v


def errors(data, t, v) -> tuple[float, float]:
    """(max spike-time error in ms, V RMS error in mV) against the converged reference."""
    ref_dt = float(data["reference_dt"])
    stride = round((t[1] - t[0]) / ref_dt)
    v_ref = data["reference_v"][::stride]
    assert len(v_ref) == len(v) and np.allclose(t, ref_dt * stride * np.arange(len(v)))
    spikes, ref_spikes = spike_times(t, v), data["reference_spikes"]
    assert len(spikes) == len(ref_spikes) == 7
    return float(np.max(np.abs(spikes - ref_spikes))), float(np.sqrt(np.mean((v - v_ref) ** 2)))


def test_reference_is_converged_and_is_neurojax_model(data):
    # SciPy at rtol 1e-10 vs 1e-12 (stored by the script): the reference's own error.
    assert data["reference_v_change"] < 1e-6  # mV; measured 9.7e-8
    assert data["reference_spike_change"] < 1e-9  # ms; measured 6.1e-11
    # neurojax's own equations, by RK4 at dt = 0.0025 ms, 5× below 0.0125 ms where its error
    # is 7e-7 ms: dt⁴ scaling leaves ~1e-9 ms (measured 1.4e-9 ms, and 4e-7 mV max in V).
    t, v = run(data, 0.0025, nj.RK4())
    v_ref = data["reference_v"]
    np.testing.assert_allclose(spike_times(t, v), data["reference_spikes"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(v[::5], v_ref, rtol=0, atol=4e-6)  # 10× the measured 4e-7


def test_neuron_solves_the_same_ode(data):
    """NEURON's errors shrink at its nominal order (1 for secondorder=0, 2 for 2): a
    mismatch of units, area, rates or stimulus timing would leave an error that does not
    vanish with dt. Richardson extrapolation of the Crank–Nicolson spike times removes the
    O(dt²) term and lands on neurojax's converged reference."""
    for so, order in ((0, 1), (2, 2)):
        errs = [errors(data, *neuron(data, dt, so)) for dt in DTS]
        for coarse, fine in zip(errs, errs[1:], strict=False):
            # measured ratios: so=0 2.06 and 2.03 (spikes), 1.79 and 1.91 (V);
            # so=2 3.99–4.00 for both. ±20% of 2**order covers the pre-asymptotic 1.79.
            for c, f in zip(coarse, fine, strict=True):
                assert 0.8 * 2**order < c / f < 1.2 * 2**order, (so, c / f)
    s_coarse = spike_times(*neuron(data, 0.025, 2))
    s_fine = spike_times(*neuron(data, 0.0125, 2))
    extrapolated = (4 * s_fine - s_coarse) / 3
    # measured 4.1e-6 ms: the O(dt³) remainder, 100× below the unextrapolated 3.7e-3 ms.
    np.testing.assert_allclose(extrapolated, data["reference_spikes"], rtol=0, atol=2e-5)


def test_default_solver_agrees_with_neuron(data):
    """At dt = 0.025 ms neurojax's default and NEURON (both schemes) differ by no more
    than the sum of their own discretisation errors (table in the module docstring)."""
    t, v = run(data, DT)
    spikes = spike_times(t, v)
    for so, spike_tol, v_tol in (
        (2, 0.029 + 0.015, 0.62 + 0.31),  # ms, mV: default + NEURON CN errors
        (0, 0.029 + 0.42, 0.62 + 8.1),  # ms, mV: default + NEURON default errors
    ):
        t_n, v_n = neuron(data, DT, so)
        assert np.allclose(t_n, t)
        diff_spikes = np.abs(spikes - spike_times(t_n, v_n))
        assert np.max(diff_spikes) <= 1.05 * spike_tol, (so, diff_spikes)  # 5% margin
        assert np.sqrt(np.mean((v - v_n) ** 2)) <= 1.05 * v_tol, so


def test_default_at_least_as_accurate_as_neuron_default(data):
    """The issue's requirement: at dt = 0.025 ms our default is at least as close to the
    converged solution as NEURON's default fixed step, in spike times and in V."""
    ours = errors(data, *run(data, DT))
    theirs = errors(data, *neuron(data, DT, 0))
    assert ours[0] <= theirs[0] and ours[1] <= theirs[1], (ours, theirs)
    assert ours[0] <= 0.05  # ms: issue 18's aim for the staggered second-order scheme
    # The numbers quoted in the module docstring (and README), to 5%.
    assert ours == pytest.approx((0.02936, 0.6202), rel=0.05)
    assert theirs == pytest.approx((0.4185, 8.069), rel=0.05)
    assert errors(data, *neuron(data, DT, 2)) == pytest.approx((0.01473, 0.3088), rel=0.05)


def test_default_solver_is_second_order(data):
    errs = [errors(data, *run(data, dt)) for dt in DTS]
    for coarse, fine in zip(errs, errs[1:], strict=False):
        # 2nd order: ×4 per halving; measured 3.98, 3.99 (spikes) and 3.94, 3.99 (V)
        # (ExponentialRK2: 3.62, 3.79 and 3.45, 3.77, its coarse pair pre-asymptotic).
        assert 3.2 < coarse[0] / fine[0] < 4.4
        assert 3.2 < coarse[1] / fine[1] < 4.4


def test_exponential_rk2_accuracy(data):
    """`ExponentialRK2` (HH's default before `Staggered`, still the second-order choice
    for models without declared gates): the figures of its docstring, to 5%."""
    assert errors(data, *run(data, DT, ExponentialRK2())) == pytest.approx(
        (0.0720, 1.505), rel=0.05
    )


# slow: three more compiled runs; test_exponential_rk2_accuracy keeps it covered fast
@pytest.mark.slow
def test_exponential_rk2_is_second_order(data):
    errs = [errors(data, *run(data, dt, ExponentialRK2())) for dt in DTS]
    for coarse, fine in zip(errs, errs[1:], strict=False):
        # measured 3.62, 3.79 (spikes) and 3.45, 3.77 (V): the coarse pair pre-asymptotic
        # (dt = 0.05 is a quarter of the spike's rise time)
        assert 3.2 < coarse[0] / fine[0] < 4.4
        assert 3.2 < coarse[1] / fine[1] < 4.4


# slow: three runs at another step; the fast tests cover both schemes at dt <= 0.05
@pytest.mark.slow
def test_staggered_most_accurate_at_coarse_step(data):
    """At dt = 0.1 ms (4× NEURON's default step) the default still beats
    `ExponentialRK2` and exponential Euler: spike times measured 0.46 / 0.88 / 4.8 ms
    after 90 ms (V RMS 8.8 / 14.6 / 31 mV)."""
    ours, rk2, ee = (
        errors(data, *run(data, 0.1, s))
        for s in (nj.Staggered(), ExponentialRK2(), nj.ExponentialEuler())
    )
    assert ours == pytest.approx((0.4573, 8.751), rel=0.05)
    assert ours[0] < 0.6 * rk2[0] and ours[1] < 0.7 * rk2[1]  # measured 0.52, 0.60
    assert rk2[0] < ee[0]


def test_exponential_euler_is_first_order(data):
    """Why the default is not exponential Euler: first order, with a large constant."""
    spike_errs = [errors(data, *run(data, dt, nj.ExponentialEuler()))[0] for dt in DTS]
    for coarse, fine in zip(spike_errs, spike_errs[1:], strict=False):
        assert 1.8 < coarse / fine < 2.2  # 1st order: ×2 per halving; measured 2.00, 2.00
    assert spike_errs[1] > errors(data, *neuron(data, DT, 0))[0]  # 1.18 ms vs NEURON's 0.42


def test_neuron_live(data):
    """Re-run NEURON (`pip install neuron`, in the dev extra) and check the committed traces
    are what it computes."""
    importlib.import_module("neuron")  # a missing NEURON fails here, loudly

    spec = importlib.util.spec_from_file_location(
        "make_neuron_reference", ROOT / "validation" / "make_neuron_reference.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for so in (0, 2):
        t, v = script.neuron_soma_trace(DT, so)
        np.testing.assert_allclose(t, neuron(data, DT, so)[0], rtol=0, atol=1e-9)
        # The same algorithm on the same inputs: only floating-point rounding may differ
        # between NEURON builds, amplified little over 7 spikes (same build: identical).
        np.testing.assert_allclose(v, data[f"neuron_so{so}_dt{DT}"], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "solver",
    [
        None,
        # slow: another gradient compilation; the default (Staggered) is checked fast
        pytest.param(ExponentialRK2(), marks=pytest.mark.slow),
    ],
    ids=["default", "ExponentialRK2"],
)
def test_gradient_through_default_solver_matches_finite_differences(solver):
    """d(mean V over 20 ms, through a spike)/d g_na by reverse mode through the
    default solver (`Staggered`) and `ExponentialRK2`, against a central difference."""
    stim = nj.stimuli.Step(10.0, start=5.0, duration=20.0)

    @jax.jit
    def loss(g_na):
        sol = nj.simulate(nj.HodgkinHuxley(g_na=g_na), stim, dt=DT, solver=solver)
        return jnp.mean(sol.v)

    g = jnp.asarray(120.0)
    grad = jax.grad(loss)(g)
    h = 1e-3  # mS/cm²: truncation ~h²·f'''/6 and rounding ~1e-16·|V|/h both ≲ 1e-9 relative
    fd = (loss(g + h) - loss(g - h)) / (2 * h)
    assert np.isfinite(grad) and abs(grad) > 1e-3  # a spike moves: a real dependence
    np.testing.assert_allclose(grad, fd, rtol=1e-7)  # measured 2e-10; FD error bound ×100
