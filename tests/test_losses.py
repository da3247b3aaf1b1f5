"""Losses of `neurojax.fitting` against hand-computed and analytic values.

Every loss is a function of two `Recording`s; the spike losses are checked on spike
trains whose distances are known in closed form (van Rossum 2001), the feature losses on
traces whose features are known, and the spike losses' gradients through a simulated
LIF neuron against the direction physics dictates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax.fitting import (
    FiringRate,
    Latency,
    PopulationRate,
    Recording,
    RestingPotential,
    SpikeAmplitude,
    SpikeCount,
    TraceMSE,
    VanRossum,
    WeightedSum,
    exponential_filter,
    first_spike_latency,
    population_rate,
)

DT = 0.1  # ms


def spikes_at(times, n_rows, dt=DT):
    return Recording.from_spike_times(times, n_rows, dt)


# ---------------------------------------------------------------- trace losses


def test_trace_mse_plain_window_and_weights(x64):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 100, 3))
    pred, target = Recording(v=jnp.asarray(a), dt=DT), Recording(v=jnp.asarray(b), dt=DT)
    # plain: the mean over all samples (exact up to float64 rounding)
    np.testing.assert_allclose(TraceMSE()(pred, target), np.mean((a - b) ** 2), rtol=1e-12)
    # window [2, 5) ms: rows are at t = (i + 1)·dt, so rows 19..48
    t = DT * np.arange(1, 101)
    rows = (t >= 2.0) & (t < 5.0)
    assert rows.sum() == 30
    np.testing.assert_allclose(
        TraceMSE(window=(2.0, 5.0))(pred, target), np.mean((a - b)[rows] ** 2), rtol=1e-12
    )
    # per-sweep weights: the weighted mean of the per-sweep MSEs
    w = np.array([1.0, 0.0, 3.0])
    per_sweep = np.mean((a - b) ** 2, axis=0)
    np.testing.assert_allclose(
        TraceMSE(weights=jnp.asarray(w))(pred, target),
        np.sum(w * per_sweep) / np.sum(w),
        rtol=1e-12,
    )
    assert TraceMSE()(pred, pred) == 0.0


def test_trace_mse_rejects_bad_weights_and_windows():
    with pytest.raises(ValueError, match="weights must be finite, >= 0"):
        TraceMSE(weights=jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="start < stop"):
        TraceMSE(window=(5.0, 2.0))
    with pytest.raises(ValueError, match="tau must be > 0"):
        VanRossum(tau=0.0)


def test_feature_losses_on_known_traces(x64):
    """Resting potential, peak and their squared differences on traces built by hand."""
    t = DT * np.arange(1, 201)
    v1 = np.where(t < 5.0, -65.0, -40.0)
    v1[120] = 30.0  # a spike peak at 12.1 ms
    v2 = np.where(t < 5.0, -70.0, -40.0)
    v2[130] = 20.0
    p, q = Recording(v=jnp.asarray(v1), dt=DT), Recording(v=jnp.asarray(v2), dt=DT)
    # mean V over [0, 5) ms: -65 vs -70 → 25 mV²
    np.testing.assert_allclose(RestingPotential(window=(0.0, 5.0))(p, q), 25.0, rtol=1e-12)
    # peaks 30 vs 20 mV → 100 mV²; restricted to a window without the peaks: -40 vs -40
    np.testing.assert_allclose(SpikeAmplitude()(p, q), 100.0, rtol=1e-12)
    np.testing.assert_allclose(SpikeAmplitude(window=(15.0, 20.0))(p, q), 0.0, atol=1e-12)


# ---------------------------------------------------------------- spike losses


def test_spike_count_and_firing_rate(x64):
    n = 1000  # 100 ms
    p = spikes_at([[10.0, 20.0, 30.0], [50.0]], n)
    q = spikes_at([[10.0], [50.0, 60.0, 70.0]], n)
    # count differences 2 and -2 → mean of squares 4
    np.testing.assert_allclose(SpikeCount()(p, q), 4.0, rtol=1e-12)
    # in [0, 40) ms: differences 2 and 0 → 2
    np.testing.assert_allclose(SpikeCount(window=(0.0, 40.0))(p, q), 2.0, rtol=1e-12)
    # rates over 100 ms: 30 vs 10 Hz and 10 vs 30 Hz → (20 Hz)²
    np.testing.assert_allclose(FiringRate()(p, q), 400.0, rtol=1e-12)
    np.testing.assert_allclose(FiringRate(scale=20.0)(p, q), 1.0, rtol=1e-12)


def test_van_rossum_single_spike_matches_closed_form(x64):
    """One unmatched spike at t₀: D² = (dt/τ) Σₖ e^(−2k·dt/τ) over the rows after it,
    a geometric series, → 1/2 for a long trace (van Rossum 2001)."""
    n, tau, t_spike = 5000, 10.0, 20.0
    p, q = spikes_at([t_spike], n), Recording(spikes=jnp.zeros(n), dt=DT)
    m = n - int(round(t_spike / DT)) + 1  # rows from the spike's row to the end
    r = np.exp(-2 * DT / tau)
    exact = DT / tau * (1 - r**m) / (1 - r)
    np.testing.assert_allclose(VanRossum(tau=tau)(p, q), exact, rtol=1e-12)
    # and the continuum value 1/2, to first order in dt/τ (the rectangle rule: + dt/(2τ))
    assert abs(exact - 0.5) < DT / tau


@pytest.mark.parametrize("delta", [0.5, 2.0, 10.0, 40.0])
def test_van_rossum_shifted_spike(x64, delta):
    """Two spikes δ apart: D² = 1 − e^(−δ/τ) in the continuum; the grid version differs by
    O(dt/τ) = 0.01 (rectangle rule)."""
    n, tau = 5000, 10.0
    p, q = spikes_at([100.0], n), spikes_at([100.0 + delta], n)
    d2 = float(VanRossum(tau=tau)(p, q))
    assert abs(d2 - (1 - np.exp(-delta / tau))) < 2 * DT / tau, d2


def test_exponential_filter_is_the_causal_kernel(x64):
    s = np.zeros(50)
    s[[3, 10]] = 1.0
    x = np.asarray(exponential_filter(jnp.asarray(s), DT, 2.0))
    k = np.arange(50)
    ref = (k >= 3) * np.exp(-(k - 3) * DT / 2.0) + (k >= 10) * np.exp(-(k - 10) * DT / 2.0)
    np.testing.assert_allclose(x, ref, rtol=1e-12)


def test_population_rate_values(x64):
    """Two neurons, 20 ms at dt 0.1: spikes at rows 5 and 50 (neuron 0) and 150 (neuron
    1). Pooled per neuron, in 10 ms bins: 1 and 0.5 spikes per neuron, 100 and 50 Hz;
    over the whole 20 ms, 1.5 spikes per neuron, 75 Hz. Against silence with `scale` 10
    Hz the loss is the mean of (100/10)² and (50/10)², 62.5 (exact in float64)."""
    s = np.zeros((200, 2))
    s[[5, 50], 0] = 1.0
    s[150, 1] = 1.0
    rec = Recording(spikes=jnp.asarray(s), dt=DT)
    silent = Recording(spikes=jnp.zeros((200, 2)), dt=DT)
    np.testing.assert_allclose(population_rate(rec, bin=10.0), [100.0, 50.0], rtol=1e-12)
    np.testing.assert_allclose(population_rate(rec), [75.0], rtol=1e-12)
    np.testing.assert_allclose(PopulationRate(bin=10.0, scale=10.0)(rec, silent), 62.5, rtol=1e-12)
    assert float(PopulationRate(bin=10.0)(rec, rec)) == 0.0
    with pytest.raises(ValueError, match="bin must be > 0"):
        PopulationRate(bin=0.0)
    with pytest.raises(ValueError, match="scale must be > 0"):
        PopulationRate(scale=0.0)
    with pytest.raises(ValueError, match="longer than the recording"):
        population_rate(rec, bin=50.0)


def test_latency_values(x64):
    n = 1000
    rec = spikes_at([[12.0, 30.0], [], [60.0]], n)
    lat = np.asarray(first_spike_latency(rec, (10.0, 50.0)))
    # first spike 2 ms after onset; none in the window → window length 40 ms; 60 ms is
    # outside the window → 40 ms as well
    np.testing.assert_allclose(lat, [2.0, 40.0, 40.0], atol=1e-9)
    other = spikes_at([[15.0], [20.0], [20.0]], n)
    # (2−5)², (40−10)², (40−10)² → mean 603
    np.testing.assert_allclose(Latency(window=(10.0, 50.0))(rec, other), 603.0, rtol=1e-9)


def test_spike_train_helpers():
    rec = Recording.from_spike_times([0.25, 0.3, 1.0], 10, 0.1)
    # row i covers (i·dt, (i+1)·dt]: 0.25 → row 2, 0.3 → row 2 (right edge), 1.0 → row 9
    np.testing.assert_array_equal(np.nonzero(np.asarray(rec.spikes))[0], [2, 9])
    assert float(rec.spikes[2]) == 2.0
    with pytest.raises(ValueError, match="outside the recording"):
        Recording.from_spike_times([5.0], 10, 0.1)
    v = jnp.array([-65.0, -10.0, 5.0, 20.0, -5.0, 3.0, -70.0])
    det = Recording.from_voltage(v, dt=0.1, v_th=0.0)
    np.testing.assert_array_equal(np.asarray(det.spikes), [0, 0, 1, 0, 0, 1, 0])


# ---------------------------------------------------------------- combinations


def test_weighted_sums(x64):
    n = 500
    v = jnp.linspace(-70, -50, n)
    p = Recording(v=v, spikes=spikes_at([10.0, 20.0], n).spikes, dt=DT)
    q = Recording(v=v + 1.0, spikes=spikes_at([12.0], n).spikes, dt=DT)
    combo = 0.5 * TraceMSE() + 2.0 * SpikeCount()
    assert isinstance(combo, WeightedSum)
    assert combo.weights == (0.5, 2.0)
    np.testing.assert_allclose(combo(p, q), 0.5 * 1.0 + 2.0 * 1.0, rtol=1e-12)
    # flattening: (a + b) * 3 + c has three terms; sum() starts at 0
    nested = (TraceMSE() + SpikeCount()) * 3 + VanRossum()
    assert nested.weights == (3.0, 3.0, 1.0)
    total = sum([TraceMSE(), SpikeCount()])
    np.testing.assert_allclose(total(p, q), 2.0, rtol=1e-12)
    assert combo.requires == ("spikes", "v")


# ---------------------------------------------------------------- gradients


def _lif_spikes(currents, n=1000):
    model = nj.LIF()
    return nj.simulate(model, jnp.broadcast_to(currents, (n, currents.shape[0])), dt=DT)


SPIKE_LOSSES = [SpikeCount(), VanRossum(tau=20.0), FiringRate()]


@pytest.fixture(scope="module")
def spike_loss_gradients():
    """The spike losses and the first-spike latency of a LIF at 2 nA (both columns), and
    their Jacobians w.r.t. the two currents, in one compiled program shared by the tests
    below (rows: `SPIKE_LOSSES`, then the latency of column 0)."""
    currents = jnp.array([2.0, 2.0])
    target = Recording(
        spikes=jnp.stack([spikes_at(np.linspace(5, 95, 12), 1000).spikes, jnp.zeros(1000)], axis=1),
        dt=DT,
    )

    def f(c):
        s = _lif_spikes(c)
        rec = Recording(v=s.v, spikes=s.spikes, dt=DT)
        values = [loss(rec, target) for loss in SPIKE_LOSSES]
        latency = first_spike_latency(Recording(spikes=s.spikes, dt=DT), (0.0, 100.0))[0]
        return jnp.stack(values + [latency])

    values, jac = jax.jit(lambda c: (f(c), jax.jacfwd(f)(c)))(currents)
    n_spikes = np.asarray(_lif_spikes(currents).spikes.sum(0))
    return n_spikes, np.asarray(values), np.asarray(jac)


@pytest.mark.parametrize(
    "i", range(len(SPIKE_LOSSES)), ids=lambda i: type(SPIKE_LOSSES[i]).__name__
)
def test_spike_losses_gradients_point_the_right_way(spike_loss_gradients, i):
    """A LIF neuron fires 6 spikes in 100 ms at 2 nA (ISI = t_ref + τ ln(RI/(RI − 15 mV)) =
    15.9 ms); the target has 12 (column 0) or none
    (column 1). Through the surrogate, d(loss)/d(current) must be finite and negative
    for column 0 (more current, more spikes, closer to the target) and positive for
    column 1."""
    n_spikes, _, jac = spike_loss_gradients
    assert np.all(n_spikes == 6)
    g = jac[i]
    assert np.all(np.isfinite(g)), g
    assert g[0] < 0 < g[1], g


def test_latency_gradient_is_negative_for_more_current(spike_loss_gradients):
    """Stronger current → earlier first spike: d(latency)/dI < 0 through the surrogate,
    and finite (the cumulative product of (1 − s) has no division)."""
    _, values, jac = spike_loss_gradients
    value, g = values[-1], jac[-1, 0]
    assert 5.0 < float(value) < 50.0
    assert np.isfinite(g) and g < 0, g
