"""Session-10 probes of `neurojax.stimuli`: realistic mistakes that gave an all-zero or
silently reshaped stimulus, or failed inside JAX naming nothing. Numpy-side checks at
construction or `sample` (nothing compiled)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax import stimuli as S

KEY = jax.random.PRNGKey(0)

CASES = [
    # a pulse narrower than the grid resolves: both edges round to one step, all zeros
    (lambda: S.Step(1.0, start=5.0, stop=5.04, duration=10.0).sample(0.1),
     ValueError, ["Step", "narrower than the grid", "at most 0.04"]),
    (lambda: S.Step(1.0, start=5.0, stop=5.05, duration=10.0).sample(0.1),
     ValueError, ["narrower"]),
    # a pulse that ends before the stimulus starts (times not from 0)
    (lambda: S.Step(1.0, start=-5.0, stop=-2.0, duration=10.0).sample(0.1),
     ValueError, ["ends before the stimulus starts"]),
    # text or booleans as times: "5" compared as text at sample; True read as 1 ms
    (lambda: S.Step(1.0, start="1", duration=10.0), TypeError, ["Step.start", "number"]),
    (lambda: S.Step(1.0, start=True, duration=10.0), TypeError, ["Step.start"]),
    (lambda: S.Ramp(1.0, stop="5", duration=10.0), TypeError, ["Ramp.stop"]),
    (lambda: S.Step(1.0, duration="10"), TypeError, ["duration"]),
    (lambda: S.Step(1.0, duration=True), TypeError, ["duration"]),
    # shapes that do not broadcast: named (was JAX's bare broadcasting error)
    (lambda: S.Sine(jnp.ones(3), jnp.ones(2), duration=10.0).sample(0.1),
     ValueError, ["Sine", "amplitude (3,)", "frequency (2,)"]),
    (lambda: S.OUNoise(jnp.zeros(2), 1.0, 5.0, KEY, shape=(3,), duration=10.0).sample(0.1),
     ValueError, ["OUNoise", "shape (3,)", "mean (2,)"]),
    (lambda: (S.Step(jnp.ones(3), duration=10.0) + S.Step(jnp.ones(2), duration=10.0)).sample(0.1),
     ValueError, ["per-step shapes (3,) and (2,)"]),
    # an int seed, None or a batch of keys as the key (failed inside jax.random)
    (lambda: S.OUNoise(0.0, 1.0, 5.0, 0, duration=10.0),
     TypeError, ["OUNoise.key", "jax.random.key"]),
    (lambda: S.PoissonSpikes(10.0, None, duration=10.0), TypeError, ["PoissonSpikes.key"]),
    (lambda: S.PoissonSpikes(10.0, jax.random.split(KEY, 3), duration=10.0),
     TypeError, ["shape (3, 2)", "jax.random.split"]),
    (lambda: S.PoissonSpikes(10.0, KEY, shape=(2.5,), duration=10.0), TypeError, ["shape"]),
]  # fmt: skip


@pytest.mark.parametrize("call, error, words", CASES)
def test_bad_stimulus_is_named(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_per_neuron_phase_offset_and_chirp_frequencies_broadcast():
    # were JAX broadcasting errors: a per-neuron phase, offset or chirp frequency with a
    # scalar amplitude. Closed forms in float64, compared at float32 rounding (atol 1e-5)
    t = 0.1 * np.arange(100)
    phase = np.array([0.0, 0.5, 1.0])
    x = S.Sine(1.0, 10.0, phase=jnp.asarray(phase), duration=10.0).sample(0.1)
    assert x.shape == (100, 3)
    np.testing.assert_allclose(x, np.sin(2 * np.pi * 10.0 * t[:, None] / 1e3 + phase), atol=1e-5)
    offset = np.array([1.0, 2.0])
    y = S.Sine(1.0, 10.0, offset=jnp.asarray(offset), duration=10.0).sample(0.1)
    np.testing.assert_allclose(y, offset + np.sin(2 * np.pi * 10.0 * t[:, None] / 1e3), atol=1e-5)
    f0 = np.array([1.0, 50.0])
    z = S.Chirp(1.0, f0=jnp.asarray(f0), f1=100.0, duration=10.0).sample(0.1)
    ts = t[:, None] / 1e3
    ref = np.sin(2 * np.pi * (f0 * ts + (100.0 - f0) * ts**2 / (2 * 0.01)))
    np.testing.assert_allclose(z, ref, atol=1e-5)


def test_legitimate_pulses_and_keys_unchanged():
    # a one-step pulse, a pulse from before 0 into the run, an int shape, a typed key
    assert float(S.Step(1.0, start=5.0, stop=5.1, duration=10.0).sample(0.1).sum()) == 1.0
    assert float(S.Step(1.0, start=-5.0, stop=2.0, duration=10.0).sample(0.1).sum()) == 20.0
    assert float(S.Step(1.0, start=-np.inf, stop=2.0, duration=10.0).sample(0.1).sum()) == 20.0
    assert S.Step(1.0, start=3.0, stop=3.0, duration=10.0).sample(0.1).sum() == 0.0  # empty
    assert S.PoissonSpikes(10.0, KEY, shape=3, duration=10.0).sample(0.1).shape == (100, 3)
    assert S.OUNoise(0.0, 1.0, 5.0, jax.random.key(1), duration=10.0).sample(0.1).shape == (100,)
