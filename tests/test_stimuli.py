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


# ---------------------------------------------------------------------------------------
# Invalid arguments: a clear error naming the argument and the fix, or correct behaviour
# (issue 8, item 8).


def test_step_start_after_stop_raises():
    with pytest.raises(ValueError, match=r"Step: start=15.0 ms is after stop=5.0 ms"):
        stimuli.Step(1.0, start=15.0, stop=5.0, duration=20.0)
    # start == stop is an empty pulse: only the offset
    x = stimuli.Step(1.0, start=5.0, stop=5.0, offset=0.25, duration=20.0).sample(DT)
    np.testing.assert_array_equal(x, 0.25)
    with pytest.raises(ValueError, match=r"Step.start must be a finite time"):
        stimuli.Step(1.0, start=float("nan"), duration=20.0)
    with pytest.raises(ValueError, match=r"Step.amplitude must be finite"):
        stimuli.Step(float("nan"), duration=20.0)


def test_ramp_of_zero_width_is_a_step():
    """The limit of a ramp whose width goes to 0: a step to `amplitude` at `start`, sampled
    like `Step` (not 0/0 = NaN)."""
    ramp = stimuli.Ramp(2.0, start=5.0, stop=5.0, duration=20.0).sample(DT)
    step = stimuli.Step(2.0, start=5.0, duration=20.0).sample(DT)
    assert np.all(np.isfinite(ramp))
    np.testing.assert_array_equal(ramp, step)
    # gradient with respect to the amplitude: the number of "on" steps, finite
    g = jax.grad(lambda a: stimuli.Ramp(a, 5.0, 5.0, duration=20.0).sample(DT).sum())(1.0)
    assert float(g) == 150.0
    with pytest.raises(ValueError, match=r"Ramp: start=15.0 ms is after stop=5.0 ms"):
        stimuli.Ramp(1.0, start=15.0, stop=5.0, duration=20.0)
    with pytest.raises(ValueError, match=r"the default stop: the duration"):
        stimuli.Ramp(1.0, start=30.0, duration=20.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(tau=-1.0), r"OUNoise.tau must be finite and > 0"),
        (dict(tau=0.0), r"OUNoise.tau must be finite and > 0"),
        (dict(tau=float("nan")), r"OUNoise.tau must be finite and > 0"),
        (dict(sigma=-0.1), r"OUNoise.sigma must be finite and >= 0"),
        (dict(mean=float("inf")), r"OUNoise.mean must be finite"),
    ],
)
def test_ou_invalid_raises(kwargs, match):
    args = dict(mean=0.0, sigma=1.0, tau=5.0) | kwargs
    with pytest.raises(ValueError, match=match):
        stimuli.OUNoise(**args, key=jax.random.key(0), duration=10.0)


def test_ou_traced_invalid_tau_raises():
    def sample(tau):
        return stimuli.OUNoise(0.0, 1.0, tau, key=jax.random.key(0), duration=10.0).sample(DT)

    assert np.all(np.isfinite(jax.jit(sample)(5.0)))
    with pytest.raises(Exception, match=r"OUNoise: tau must be > 0 ms"):
        jax.block_until_ready(jax.jit(sample)(-5.0))


@pytest.mark.parametrize("rate", [-1.0, float("nan"), float("inf"), [10.0, -5.0]])
def test_poisson_invalid_rate_raises(rate):
    with pytest.raises(ValueError, match=r"PoissonSpikes.rate must be finite and >= 0"):
        stimuli.PoissonSpikes(jnp.asarray(rate), key=jax.random.key(0), shape=(), duration=10.0)


def test_poisson_rate_above_one_per_step_raises():
    """rate·dt > 1 cannot be represented with 0/1 per step: refused, naming the largest dt
    that fits. At rate·dt = 1 exactly every step spikes (mean rate still exact)."""
    stim = stimuli.PoissonSpikes(20_000.0, key=jax.random.key(0), duration=10.0)
    with pytest.raises(ValueError, match=r"2 spikes per step.*Use dt <= 0.05 ms"):
        stim.sample(DT)
    x = stimuli.PoissonSpikes(10_000.0, key=jax.random.key(0), duration=10.0).sample(DT)
    np.testing.assert_array_equal(x, 1.0)
    # zero rate: no spikes
    np.testing.assert_array_equal(
        stimuli.PoissonSpikes(0.0, key=jax.random.key(0), duration=10.0).sample(DT), 0.0
    )

    def traced(rate):
        return stimuli.PoissonSpikes(rate, key=jax.random.key(0), duration=10.0).sample(DT)

    with pytest.raises(Exception, match=r"at most 1000/dt Hz"):
        jax.block_until_ready(jax.jit(traced)(20_000.0))


@pytest.mark.parametrize(
    ("dt", "error", "match"),
    [
        (0.0, ValueError, r"dt must be a finite time step > 0 ms, got dt=0.0"),
        (-0.1, ValueError, r"dt must be a finite time step > 0 ms"),
        (float("nan"), ValueError, r"dt must be a finite time step > 0 ms"),
        (float("inf"), ValueError, r"dt must be a finite time step > 0 ms"),
        ("0.1", TypeError, r"dt must be a time step in ms \(a number > 0\), got '0.1'"),
        (None, TypeError, r"dt must be a time step in ms"),
    ],
)
def test_sample_bad_dt_raises(dt, error, match):
    for stim in (
        stimuli.Step(1.0, duration=10.0),
        stimuli.OUNoise(0.0, 1.0, 5.0, key=jax.random.key(0), duration=10.0),
        stimuli.PoissonSpikes(10.0, key=jax.random.key(0), duration=10.0),
    ):
        with pytest.raises(error, match=match):
            stim.sample(dt)


def test_sample_traced_dt_raises():
    with pytest.raises(TypeError, match=r"sampled with a concrete dt.*stim.sample\(dt\)"):
        jax.jit(lambda dt: stimuli.Step(1.0, duration=10.0).sample(dt))(0.1)


def test_duration_not_a_multiple_of_dt_raises():
    """Never silently shortened (10.04 ms at dt 0.1 used to give 100 steps = 10 ms): the
    error names the two nearest durations that fit."""
    with pytest.raises(ValueError, match=r"not a whole number of steps.*100.4 steps.*10 or 10.1"):
        stimuli.Step(1.0, duration=10.04).sample(DT)
    with pytest.raises(ValueError, match=r"not a whole number of steps"):
        stimuli.Sine(1.0, 10.0, duration=1000.0).sample(0.3)
    # Floating-point dt that divides the duration up to rounding is fine, including float32.
    for dt in (0.1, 0.025, 0.01, np.float32(0.1), jnp.float32(0.025)):
        n = stimuli.Step(1.0, duration=50.0).sample(dt).shape[0]
        assert n == round(50.0 / float(dt))
    # through simulate, the same error
    import neurojax as nj

    with pytest.raises(ValueError, match=r"not a whole number of steps"):
        nj.simulate(nj.LIF(), stimuli.Step(1.0, duration=10.04), dt=DT)


def test_arithmetic_with_numbers_and_arrays():
    step = stimuli.Step(2.0, start=5.0, stop=15.0, duration=20.0)
    base = np.asarray(step.sample(DT))
    np.testing.assert_allclose((step + 1.0).sample(DT), base + 1.0)
    np.testing.assert_allclose((1.0 + step).sample(DT), base + 1.0)
    np.testing.assert_allclose((step - 0.5).sample(DT), base - 0.5)
    np.testing.assert_allclose((0.5 - step).sample(DT), 0.5 - base)
    np.testing.assert_allclose((-step).sample(DT), -base)
    np.testing.assert_allclose((3 * step).sample(DT), 3 * base)
    np.testing.assert_allclose((step * 3).sample(DT), 3 * base)
    np.testing.assert_allclose((step / 4).sample(DT), base / 4)
    # arrays broadcast against the per-step shape: one offset per neuron
    many = (step + jnp.array([0.0, 1.0, 2.0])).sample(DT)
    assert many.shape == (200, 3)
    np.testing.assert_allclose(many[:, 2], base + 2.0)
    many_np = (np.array([0.0, 1.0]) + step).sample(DT)
    assert many_np.shape == (200, 2)
    # stimulus minus stimulus, and a product (amplitude modulation)
    sine = stimuli.Sine(1.0, frequency=100.0, duration=20.0)
    np.testing.assert_allclose((step - sine).sample(DT), base - sine.sample(DT), atol=1e-6)
    np.testing.assert_allclose((step * sine).sample(DT), base * sine.sample(DT), atol=1e-6)
    # differentiable through the arithmetic
    g = jax.grad(lambda a: (2.0 * stimuli.Step(a, 5.0, 15.0, duration=20.0) + 1.0).sample(DT).sum())
    assert float(g(1.0)) == 200.0
    # unsupported operands: Python's own TypeError, not an AttributeError
    with pytest.raises(TypeError, match=r"unsupported operand"):
        step + "1.0"
    with pytest.raises(ZeroDivisionError, match=r"divide a stimulus by zero"):
        step / 0
    with pytest.raises(ValueError, match=r"Scaled.factor must be finite"):
        step * float("nan")
    with pytest.raises(ValueError, match=r"cannot multiply stimuli of durations"):
        step * stimuli.Sine(1.0, 10.0, duration=10.0)


def test_arithmetic_stimulus_in_simulate():
    """`Step(...) + 1.0` was an AttributeError; now a stimulus `simulate` samples."""
    import neurojax as nj

    stim = 0.5 * stimuli.Step(2.0, start=5.0, stop=15.0, duration=20.0) + 1.0
    sol = nj.simulate(nj.LIF(), stim, dt=DT)
    direct = nj.simulate(nj.LIF(), stim.sample(DT), dt=DT)
    np.testing.assert_array_equal(sol.v, direct.v)
    np.testing.assert_allclose(stim.sample(DT)[:50], 1.0)
    np.testing.assert_allclose(stim.sample(DT)[50:150], 2.0)
