"""Stimuli sampled on the simulation grid: deterministic waveforms against their formulas,
noise and spike trains against their statistics (tolerances: 5 standard errors of the
estimator for the sample drawn, so a correct sampler fails with probability < 1e-6)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import stimuli

DT = 0.1


def test_step():
    stim = stimuli.Step(2.0, start=5.0, stop=15.0, duration=20.0, offset=0.5)
    x = np.asarray(stim.sample(DT))
    assert x.shape == (200,)
    # On for the steps starting in [5, 15) ms: indices 50..149.
    expected = np.full(200, 0.5)
    expected[50:150] += 2.0
    np.testing.assert_allclose(x, expected, rtol=1e-7)
    # Per-neuron amplitudes, and the default stop (the end).
    many = stimuli.Step(jnp.array([1.0, -1.0, 3.0]), start=10.0, duration=20.0).sample(DT)
    assert many.shape == (200, 3)
    np.testing.assert_array_equal(many[:100], 0.0)
    np.testing.assert_array_equal(many[100:], np.broadcast_to([1.0, -1.0, 3.0], (100, 3)))
    # Differentiable in the amplitude: d(sum)/d(amplitude) = number of "on" steps.
    grad = jax.grad(lambda a: stimuli.Step(a, 5.0, 15.0, duration=20.0).sample(DT).sum())(1.0)
    assert float(grad) == 100.0


def test_ramp():
    stim = stimuli.Ramp(3.0, start=10.0, stop=30.0, duration=40.0)
    x = np.asarray(stim.sample(DT))
    t = DT * np.arange(400)
    np.testing.assert_allclose(x, 3.0 * np.clip((t - 10.0) / 20.0, 0, 1), atol=1e-6)
    assert x[0] == 0.0 and x[-1] == 3.0
    # Default stop: the end of the stimulus. Array amplitudes give columns.
    many = stimuli.Ramp(jnp.array([1.0, 2.0]), duration=10.0).sample(DT)
    assert many.shape == (100, 2)
    np.testing.assert_allclose(many[:, 1], 2 * many[:, 0], rtol=1e-7)
    np.testing.assert_allclose(many[:, 0], DT * np.arange(100) / 10.0, atol=1e-6)


def test_sine():
    stim = stimuli.Sine(2.0, frequency=50.0, offset=1.0, phase=0.3, duration=100.0)
    x = np.asarray(stim.sample(DT))
    t = DT * np.arange(1000)  # ms; frequency in Hz
    # float32 phase 2π·50·t/1000 up to 31 rad: a few ulp of it, ~1e-5 in the value.
    np.testing.assert_allclose(x, 1.0 + 2.0 * np.sin(2 * np.pi * 0.05 * t + 0.3), atol=2e-5)
    # 5 whole periods: the mean is the offset, the extremes offset ± amplitude.
    assert x.mean() == pytest.approx(1.0, abs=1e-5)
    assert x.max() == pytest.approx(3.0, abs=1e-3) and x.min() == pytest.approx(-1.0, abs=1e-3)
    many = stimuli.Sine(jnp.array([1.0, 2.0]), frequency=jnp.array([10.0, 20.0]), duration=100.0)
    y = np.asarray(many.sample(DT))
    assert y.shape == (1000, 2)
    np.testing.assert_allclose(y[:, 1], 2 * np.sin(2 * np.pi * 0.02 * t), atol=2e-5)


def test_chirp():
    """A linear chirp 1 → 41 Hz over 1 s: sin(2π(f0·t + (f1 − f0)t²/2T)); it runs through
    ∫f dt = (f0 + f1)/2·T = 21 cycles, i.e. 42 zero crossings."""
    stim = stimuli.Chirp(1.5, f0=1.0, f1=41.0, duration=1000.0)
    x = np.asarray(stim.sample(DT))
    t = DT * np.arange(10_000) / 1000.0  # s
    expected = 1.5 * np.sin(2 * np.pi * (t + 40.0 * t**2 / 2))
    # float32 phase up to 2π·21 ≈ 132 rad: ~1e-5 rad of rounding, ×1.5 amplitude.
    np.testing.assert_allclose(x, expected, atol=1e-4)
    # Zero crossings: the k-th (k = 1..41) where the phase is kπ, i.e. at the root t_k of
    # f0·t + (f1 − f0)t²/(2T) = k/2; a sign change between samples i and i + 1 places it
    # within one step before t_{i+1} (slack 1e-3 ms: float32 phase rounding, ~1e-5 rad,
    # moves a crossing by < 1e-4 ms).
    i = np.flatnonzero(np.diff(np.signbit(x[1:]))) + 1  # x[0] = 0 exactly: skip it
    assert len(i) == 41
    a, k = 40.0 / 2, np.arange(1, 42)
    t_k = (-1.0 + np.sqrt(1.0 + 4 * a * k / 2)) / (2 * a) * 1000.0  # ms
    t_after = DT * (i + 1)
    assert np.all((t_after >= t_k - 1e-3) & (t_after < t_k + DT + 1e-3)), t_after - t_k


def _ar1_mean_var(rho, n):
    """Var of the mean of n consecutive samples of a unit-variance AR(1) with coefficient
    rho, started stationary (exact finite-n formula)."""
    return (1 / n) * ((1 + rho) / (1 - rho) - 2 * rho * (1 - rho**n) / (n * (1 - rho) ** 2))


@pytest.mark.parametrize("dt", [0.1, 1.0])
def test_ou_noise_statistics(dt):
    """Stationary mean and standard deviation, and autocorrelation e^(−lag/τ), pooled over
    N independent processes. Standard errors for an AR(1) with coefficient ρ = e^(−dt/τ)
    (Bartlett's formulas; Priestley 1981 §5.3): the variance estimate with known mean has
    Var(s²)/σ⁴ ≈ 2(1 + ρ²)/((1 − ρ²)·N·n), the lag-k autocorrelation
    Var(r_k) ≈ [(1 + ρ²)(1 − ρ^2k)/(1 − ρ²) − 2kρ^2k]/(N·n)."""
    mean, sigma, tau, n_proc = 0.5, 0.2, 2.0, 2000
    n = 500
    stim = stimuli.OUNoise(
        mean, sigma, tau, key=jax.random.key(0), shape=(n_proc,), duration=n * dt
    )
    x = np.asarray(stim.sample(dt), dtype=np.float64)
    assert x.shape == (n, n_proc)
    rho = math.exp(-dt / tau)
    total = n * n_proc

    se_mean = sigma * math.sqrt(_ar1_mean_var(rho, n) / n_proc)
    assert abs(x.mean() - mean) < 5 * se_mean, (x.mean(), se_mean)

    d = x - mean
    var = (d**2).mean()
    se_var = sigma**2 * math.sqrt(2 * (1 + rho**2) / ((1 - rho**2) * total))
    assert abs(var - sigma**2) < 5 * se_var, (var, se_var)
    # Started from the stationary distribution: the first and last rows already have the
    # full spread (N independent normal samples: SE of s²/σ² = √(2/N)).
    for row in (d[0], d[-1]):
        assert abs((row**2).mean() / sigma**2 - 1) < 5 * math.sqrt(2 / n_proc)

    for lag in (1, max(1, round(tau / dt))):
        r = (d[:-lag] * d[lag:]).mean() / var
        rk = rho**lag
        se = math.sqrt(((1 + rho**2) * (1 - rk**2) / (1 - rho**2) - 2 * lag * rk**2) / total)
        assert abs(r - math.exp(-lag * dt / tau)) < 5 * se, (lag, r, se)


def test_poisson_spikes():
    rate, n_trains, duration = 40.0, 400, 1000.0  # Hz, -, ms
    stim = stimuli.PoissonSpikes(rate, key=jax.random.key(1), shape=(n_trains,), duration=duration)
    x = np.asarray(stim.sample(DT))
    assert x.shape == (10_000, n_trains)
    assert set(np.unique(x)) == {0.0, 1.0}
    counts = x.sum(axis=0)
    expected = rate * duration / 1000.0  # 40 spikes per train
    p = rate * DT / 1000.0
    # Total count: binomial(n·N, p), SE = √(n·N·p(1 − p)) ≈ 126 of 16000.
    se = math.sqrt(x.size * p * (1 - p))
    assert abs(counts.sum() - expected * n_trains) < 5 * se
    # Fano factor 1 − p ≈ 1 (Poisson); SE of a sample variance ratio √(2/(N − 1)) = 0.07.
    fano = counts.var(ddof=1) / counts.mean()
    assert abs(fano - (1 - p)) < 5 * math.sqrt(2 / (n_trains - 1))

    # Reproducible with the same key, different with another one.
    np.testing.assert_array_equal(stim.sample(DT), x)
    other = stimuli.PoissonSpikes(rate, key=jax.random.key(2), shape=(n_trains,), duration=duration)
    assert not np.array_equal(other.sample(DT), x)

    # One rate per train.
    rates = jnp.array([10.0, 100.0])
    two = stimuli.PoissonSpikes(rates, key=jax.random.key(3), shape=(2,), duration=20_000.0)
    c = np.asarray(two.sample(1.0)).sum(axis=0)  # 20 s at 1 ms steps: p = 0.01, 0.1
    for count, r in zip(c, (10.0, 100.0), strict=True):
        mu = 20_000 * r / 1000
        assert abs(count - mu) < 5 * math.sqrt(mu * (1 - r / 1000)), (count, mu)


def test_ou_reproducible_with_key():
    def sample(seed):
        noise = stimuli.OUNoise(0.0, 1.0, 5.0, key=jax.random.key(seed), duration=50.0)
        return np.asarray(noise.sample(DT))

    np.testing.assert_array_equal(sample(0), sample(0))
    assert not np.array_equal(sample(0), sample(1))


def test_sum():
    step = stimuli.Step(1.0, start=10.0, duration=50.0)
    sine = stimuli.Sine(0.5, frequency=100.0, duration=50.0)
    noise = stimuli.OUNoise(0.0, 0.1, 3.0, key=jax.random.key(0), duration=50.0)
    total = step + sine + noise
    assert isinstance(total, stimuli.Sum) and total.duration == 50.0
    np.testing.assert_allclose(
        total.sample(DT), step.sample(DT) + sine.sample(DT) + noise.sample(DT), rtol=1e-6
    )
    with pytest.raises(ValueError, match="durations 50.0 and 20.0"):
        step + stimuli.Step(1.0, duration=20.0)


@pytest.mark.parametrize("duration", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_duration_raises(duration):
    with pytest.raises(ValueError, match=r"duration must be > 0 ms"):
        stimuli.Step(1.0, duration=duration)
    with pytest.raises(ValueError, match=r"duration must be > 0 ms"):
        stimuli.PoissonSpikes(10.0, key=jax.random.key(0), duration=duration)


def test_duration_shorter_than_a_step_raises():
    with pytest.raises(ValueError, match=r"shorter than one step"):
        stimuli.Step(1.0, duration=0.04).sample(0.1)
