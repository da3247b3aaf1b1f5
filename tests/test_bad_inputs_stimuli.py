"""Bad stimuli and `SaveAt` settings raise errors naming the culprit, at construction or
at `sample` (numpy-side checks, before anything is compiled)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import neurojax as nj
from neurojax import stimuli as S

CASES = [
    # a pulse starting at or after the end of the run would be zero throughout
    (lambda: S.Step(1.0, start=200.0, duration=100.0), ["Step", "start=200", "end"]),
    (lambda: S.Step(1.0, start=100.0, duration=100.0), ["Step", "start=100"]),
    (lambda: S.Ramp(1.0, start=150.0, stop=300.0, duration=100.0), ["Ramp", "start=150"]),
    # a frequency at or above Nyquist aliases (1e5 Hz sampled every 0.1 ms is all zeros)
    (lambda: S.Sine(1.0, 1e5, duration=10.0).sample(0.1), ["Sine", "Nyquist", "dt <"]),
    (lambda: S.Chirp(1.0, f1=6000.0, duration=10.0).sample(0.1), ["Chirp", "Nyquist"]),
    (lambda: S.Chirp(1.0, f1="a", duration=10.0), ["Chirp.f1", "real"]),
    (lambda: S.n_steps_of(math.nan, 0.1), ["duration", "finite"]),
    (lambda: nj.SaveAt(spikes="no"), ["spikes", "True or False"]),
    (lambda: nj.SaveAt(spike_dtype="abc"), ["spike_dtype", "not a dtype"]),
    (lambda: nj.SaveAt(every=2.5), ["every", "int >= 1"]),
]


@pytest.mark.parametrize("call, words", CASES)
def test_bad_stimulus_or_saveat_is_named(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_legitimate_stimuli_unchanged():
    # a stop beyond the run is "on to the end"; a numpy integer `every` is an int; a
    # sine below Nyquist samples its closed form (float32 rounding of sin: atol 1e-5)
    assert float(S.Step(1.0, start=5.0, stop=300.0, duration=10.0).sample(1.0).sum()) == 5.0
    assert nj.SaveAt(every=np.int64(4)).every == 4
    x = S.Sine(1.0, 1000.0, duration=2.0).sample(0.1)  # 5 samples per period
    t = 0.1 * np.arange(20)
    np.testing.assert_allclose(x, np.sin(2 * np.pi * t), atol=1e-5)
    assert x.dtype == jnp.float32
