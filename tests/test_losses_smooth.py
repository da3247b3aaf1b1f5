"""Losses smooth in spike timing (issue 11): `SoftSpikeCount`, `WindowedFeatures`,
`SoftDTW`.

Values against hand counts, NumPy and a direct O(n·m) soft-DTW recursion; gradients
against central finite differences in float64 (on traces, and through an HH simulation
with respect to `g_na`); and the reason they exist: along HH's `g_na`, the trace MSE of a
4-spike sweep has a spurious local minimum, these losses a single basin at the truth.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import Recording, TraceMSE, WeightedSum
from neurojax.fitting._losses import (
    SoftDTW,
    SoftSpikeCount,
    WindowedFeatures,
    soft_dtw,
    soft_spike_count,
)

DT = 0.1  # ms


def spiky_trace(times, n=600, dt=DT, width=0.4, amp=100.0, base=-65.0, slope=0.0):
    """A baseline with Gaussian 'spikes' of `amp` mV at `times` (ms)."""
    t = dt * np.arange(1, n + 1)
    v = base + slope * t
    for s in times:
        v = v + amp * np.exp(-0.5 * ((t - s) / width) ** 2)
    return v


def soft_dtw_reference(x, y, gamma, band=None):
    """Cuturi & Blondel's (2017) recursion, written out in NumPy (R with an ∞ border)."""
    n, m = len(x), len(y)
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band is not None and abs((i - 1) - (j - 1) * n / m) > band:
                continue
            a = np.array([r[i - 1, j], r[i, j - 1], r[i - 1, j - 1]])
            lo = a.min()
            soft = lo - gamma * np.log(np.sum(np.exp(-(a - lo) / gamma))) if np.isfinite(lo) else lo
            r[i, j] = (x[i - 1] - y[j - 1]) ** 2 + soft
    return r[n, m]


# ---------------------------------------------------------------- values


def test_soft_spike_count_counts_spikes_wherever_they_are(x64):
    v = np.stack([spiky_trace([10.0, 25.0, 40.0]), spiky_trace([12.0]), spiky_trace([])], axis=1)
    rec = Recording(v=jnp.asarray(v), dt=DT)
    # a 100 mV excursion crosses 0 mV by 35 mV = 17 widths: sigmoid saturated to e^-17
    np.testing.assert_allclose(soft_spike_count(rec), [3.0, 1.0, 0.0], atol=1e-6)
    # windowed: [0, 20) ms holds 1 and 1 spikes
    in_window = soft_spike_count(rec, window=(0.0, 20.0))
    np.testing.assert_allclose(in_window, [1.0, 1.0, 0.0], atol=1e-6)
    # a spike peaking exactly at threshold counts sigmoid(0) − sigmoid(−32.5) = 1/2
    half = Recording(v=jnp.asarray(spiky_trace([30.0], amp=65.0)), dt=DT)
    np.testing.assert_allclose(soft_spike_count(half), 0.5, atol=1e-6)
    # the loss: counts 3, 1, 0 vs a target with 2 spikes each → (1 + 1 + 4) / 3
    target = Recording(v=jnp.asarray(np.stack([spiky_trace([5.0, 50.0])] * 3, axis=1)), dt=DT)
    np.testing.assert_allclose(SoftSpikeCount()(rec, target), 2.0, atol=1e-5)
    # a spike-train target (no voltage) is counted exactly
    spikes = Recording.from_spike_times([[5.0, 50.0]] * 3, 600, DT)
    np.testing.assert_allclose(SoftSpikeCount()(rec, spikes), 2.0, atol=1e-5)


def test_windowed_features_values(x64):
    rng = np.random.default_rng(0)
    v = -65.0 + rng.normal(size=(600, 2))
    v[150:154, 0] += 100.0  # one 0.4 ms spike at 15 ms in sweep 0
    rec = Recording(v=jnp.asarray(v), dt=DT)
    loss = WindowedFeatures(windows=3)
    f = np.asarray(loss.features(rec))  # (3 windows, 3 features, 2 sweeps)
    t = DT * np.arange(1, 601)
    edges = np.linspace(0.0, 60.1, 4)
    for k in range(3):
        rows = (t >= edges[k]) & (t < edges[k + 1])
        np.testing.assert_allclose(f[k, 0], v[rows].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(f[k, 1], v[rows].std(axis=0), rtol=1e-9)
    np.testing.assert_allclose(f[:, 2, 0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(f[:, 2, 1], 0.0, atol=1e-6)
    # explicit windows; identical traces cost 0; scales divide the differences
    assert float(WindowedFeatures(windows=((0.0, 30.0), (30.0, 60.0)))(rec, rec)) == 0.0
    shifted = Recording(v=rec.v + 2.0, dt=DT)  # mean +2 mV in every window, std unchanged
    np.testing.assert_allclose(WindowedFeatures(windows=3)(shifted, rec), 4.0, rtol=1e-9)
    np.testing.assert_allclose(
        WindowedFeatures(windows=3, scales=(2.0, 1.0, 1.0))(shifted, rec), 1.0, rtol=1e-9
    )


def test_soft_dtw_matches_the_recursion(x64):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=17), rng.normal(size=11)
    for gamma in (0.01, 0.5, 5.0):
        np.testing.assert_allclose(
            soft_dtw(jnp.asarray(x), jnp.asarray(y), gamma), soft_dtw_reference(x, y, gamma),
            rtol=1e-10,
        )  # fmt: skip
    np.testing.assert_allclose(
        soft_dtw(jnp.asarray(x), jnp.asarray(x[::-1]), 0.3, band=2),
        soft_dtw_reference(x, x[::-1], 0.3, band=2),
        rtol=1e-10,
    )
    # gamma → 0 is DTW: a pure time shift of a pulse costs (almost) nothing to warp
    a = np.r_[np.zeros(5), 1.0, np.zeros(10)]
    b = np.r_[np.zeros(9), 1.0, np.zeros(6)]
    assert float(soft_dtw(jnp.asarray(a), jnp.asarray(b), 1e-4)) < 1e-2
    assert np.mean((a - b) ** 2) * len(a) == 2.0  # while the squared error is 2


def test_soft_dtw_loss_is_a_divergence(x64):
    v = spiky_trace([5.0, 12.0], n=200)
    p = Recording(v=jnp.asarray(np.stack([v, v + 1.0], axis=1)), dt=DT)
    q = Recording(v=jnp.asarray(np.stack([v, v], axis=1)), dt=DT)
    loss = SoftDTW(gamma=10.0, downsample=2)
    np.testing.assert_allclose(loss(q, q), 0.0, atol=1e-9)
    assert float(loss(p, q)) > 0
    # block means of 2 rows, then the divergence per path length (n + m)
    xs = v.reshape(100, 2).mean(1)
    ref = (
        soft_dtw_reference(xs + 1.0, xs, 10.0)
        - 0.5 * (soft_dtw_reference(xs + 1.0, xs + 1.0, 10.0) + soft_dtw_reference(xs, xs, 10.0))
    ) / 200
    np.testing.assert_allclose(float(loss(p, q)), ref / 2, rtol=1e-8)  # sweep 0 costs 0


def test_smooth_losses_compose_and_validate():
    combo = TraceMSE() + 0.5 * SoftDTW() + 2.0 * SoftSpikeCount() + WindowedFeatures()
    assert isinstance(combo, WeightedSum) and combo.weights == (1.0, 0.5, 2.0, 1.0)
    assert combo.requires == ("v",)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        SoftDTW(gamma=0.0)
    with pytest.raises(ValueError, match="downsample must be an integer"):
        SoftDTW(downsample=0)
    with pytest.raises(ValueError, match="width must be > 0 mV"):
        SoftSpikeCount(width=0.0)
    with pytest.raises(ValueError, match="windows must be a number of windows"):
        WindowedFeatures(windows=0)
    with pytest.raises(ValueError, match="weights must be 3 numbers"):
        WindowedFeatures(weights=(1.0, 1.0))


# ---------------------------------------------------------------- gradients


LOSSES = [
    SoftSpikeCount(width=5.0),
    WindowedFeatures(windows=4),
    SoftDTW(gamma=100.0, downsample=4),
    SoftDTW(gamma=100.0, downsample=4, band=5.0),
]


IDS = ["SoftSpikeCount", "WindowedFeatures", "SoftDTW", "SoftDTW-band"]


def _trace_problem():
    v = np.stack(
        [
            spiky_trace([12.0, 28.0], n=400, slope=0.1),
            spiky_trace([20.0], n=400, amp=70.0, slope=0.1),
        ],
        axis=1,
    )
    other = spiky_trace([15.0, 35.0], n=400)
    target = Recording(v=jnp.asarray(np.stack([other, other], axis=1)), dt=DT)
    direction = jnp.asarray(np.random.default_rng(2).normal(size=v.shape))
    return jnp.asarray(v), target, direction


def test_gradient_of_the_smooth_losses_together(x64):
    """The fast tier's gradient check: the three losses as one vector-valued function, so
    one compilation for the values and one for the directional derivatives (each loss
    alone, the banded SoftDTW, and through HH, are the slow tests below). Autodiff
    (forward mode) vs central differences (h = 1e-4 mV) along a random direction;
    tolerance 1e-5 as below (truncation O(h²) ≤ 1.5e-7 relative per term)."""
    x0, target, direction = _trace_problem()

    @jax.jit
    def f(x):
        return jnp.stack([loss(Recording(v=x, dt=DT), target) for loss in LOSSES[:3]])

    _, g = jax.jvp(f, (x0,), (direction,))
    h = 1e-4
    fd = (np.asarray(f(x0 + h * direction)) - np.asarray(f(x0 - h * direction))) / (2 * h)
    assert np.all(np.abs(np.asarray(g)) > 1e-3)  # a real test: no derivative is zero
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5)


# slow tier: finite differences per loss; the weighted sum above keeps them in the fast tier
@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_gradient_wrt_the_trace_matches_finite_differences(x64, loss):
    """Directional derivative along a random direction: autodiff vs central differences
    (h = 1e-4 mV). Tolerance 1e-5: the truncation error O(h²) is ≤ 1.5e-7 relative per
    term (measured: the std term; h = 1e-3 gives 1.5e-5, so it is truncation), and the
    mean and std terms of `WindowedFeatures` cancel to 1/10 of their size here.

    The baselines slope (0.1 mV/ms): the soft count sums the *positive* increments of a
    sigmoid, continuous but with a kink where an increment is exactly 0 — on a perfectly
    flat stretch, which a perturbation of either sign straddles."""
    x0, target, direction = _trace_problem()

    def f(x):
        return loss(Recording(v=x, dt=DT), target)

    g = float(jnp.vdot(jax.grad(f)(x0), direction))
    h = 1e-4
    fd = (float(f(x0 + h * direction)) - float(f(x0 - h * direction))) / (2 * h)
    rel = abs(g - fd) / abs(fd)
    print(f"{type(loss).__name__}: autodiff {g:.10g}, FD {fd:.10g}, rel. diff {rel:.2e}")
    assert abs(g) > 1e-3  # a real test: the derivative is not zero
    np.testing.assert_allclose(g, fd, rtol=1e-5)


def _hh_sweep(dt=0.025, n=1200):
    t = dt * np.arange(n)
    return jnp.asarray(np.where((t >= 5.0) & (t < 25.0), 10.0, 0.0))


# slow tier: finite differences through an HH simulation, one compilation per loss; the
# trace-level check above keeps the gradients in the fast tier
@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES[:3], ids=IDS[:3])
def test_gradient_through_hh_matches_finite_differences(x64, loss):
    """d(loss)/d(g_na) through a 30 ms HH simulation (2 spikes) from g_na = 100 against
    the 120 mS/cm² target: forward-mode autodiff vs central differences (h = 1e-4 mS/cm²,
    truncation ~1e-8 relative; rounding 1e-16·|loss|/h). Tolerance 1e-5."""
    dt, inputs = 0.025, _hh_sweep()
    target = Recording(v=nj.simulate(nj.HodgkinHuxley(), inputs, dt=dt).v, dt=dt)

    @jax.jit
    def f(g):
        v = nj.simulate(nj.HodgkinHuxley(g_na=g), inputs, dt=dt, adjoint=nj.ForwardMode()).v
        return loss(Recording(v=v, dt=dt), target)

    g0 = jnp.asarray(100.0)
    _, grad = jax.jvp(f, (g0,), (jnp.ones_like(g0),))
    h = 1e-4
    fd = (float(f(g0 + h)) - float(f(g0 - h))) / (2 * h)
    print(
        f"{type(loss).__name__}: autodiff {float(grad):.10g}, FD {fd:.10g}, "
        f"rel. diff {abs(float(grad) - fd) / abs(fd):.2e}"
    )
    assert abs(float(grad)) > 1e-8
    np.testing.assert_allclose(float(grad), fd, rtol=1e-5)


# ---------------------------------------------------------------- the landscape


def _single_basin(values, grid, at):
    """The loss falls (weakly) from both ends of the grid to its minimum, which is at
    `at`; slack 1e-9 of the range for float rounding on flat stretches."""
    tol = 1e-9 * (np.max(values) - np.min(values))
    k = int(np.argmin(values))
    return (
        abs(values[k] - values[list(grid).index(at)]) <= tol
        and np.all(np.diff(values[: k + 1]) <= tol)
        and np.all(np.diff(values[k:]) >= -tol)
    )


def _local_minima(values, grid):
    """Grid points strictly below both neighbours by more than 1e-9 of the range (so
    that float rounding on a flat stretch does not count)."""
    tol = 1e-9 * (np.max(values) - np.min(values))
    return [
        float(grid[i])
        for i in range(1, len(values) - 1)
        if values[i] < values[i - 1] - tol and values[i] < values[i + 1] - tol
    ]


# slow tier: 41 HH simulations of 60 ms in float64 (a landscape study); the values tests
# above keep the losses in the fast tier
@pytest.mark.slow
def test_smooth_losses_have_one_basin_where_trace_mse_has_two(x64):
    """Issue 11's failure, in one dimension: one 60 ms HH sweep (10 µA/cm² from 5 to
    55 ms, 4 spikes), g_na scanned over [60, 180] mS/cm² in 41 steps. The trace MSE has
    a spurious local minimum (measured: at 102, where the spikes misalign by about one
    spike); the smooth losses decrease monotonically towards 120 from both sides."""
    dt, n = 0.025, 2400
    t = dt * np.arange(n)
    inputs = jnp.asarray(np.where((t >= 5.0) & (t < 55.0), 10.0, 0.0))
    grid = np.linspace(60.0, 180.0, 41)
    vs = jax.jit(jax.vmap(lambda g: nj.simulate(nj.HodgkinHuxley(g_na=g), inputs, dt=dt).v))(
        jnp.asarray(grid)
    )
    target = Recording(v=vs[20], dt=dt)  # g_na = 120
    assert grid[20] == 120.0 and int(Recording.from_voltage(vs[20], dt).spikes.sum()) == 4

    def landscape(loss):
        return np.asarray(jax.jit(jax.vmap(lambda v: loss(Recording(v=v, dt=dt), target)))(vs))

    mse = landscape(TraceMSE())
    print("MSE minima:", _local_minima(mse, grid))
    assert len(_local_minima(mse, grid)) >= 2 and 120.0 in _local_minima(mse, grid)
    assert not _single_basin(mse, grid, 120.0)
    for loss in (SoftSpikeCount(), WindowedFeatures(windows=3), SoftDTW(downsample=8)):
        values = landscape(loss)
        print(type(loss).__name__, "minima:", _local_minima(values, grid))
        assert _single_basin(values, grid, 120.0), (type(loss).__name__, values)
