"""Session-9 probes of `neurojax.models.wang2002` (and its stimulus helper): arguments
that were read silently as something else now raise, naming the argument; a traced
stimulus (a psychometric curve under `jax.jit`/`jax.vmap`) now works instead of failing
inside NumPy. Nothing is simulated; one tiny function is compiled (the traced check).

Found by the probes:

- `w_plus=True` built w+ = 1, `mu0=True` a 1 Hz stimulus, `coherence=True` 1 %, and the
  strings `"0.15"`, `"1.7"`, `"50"`, `"40"` were parsed; a complex value was a bare
  `float()` error;
- `wang2002_stimulus(net, c, mu0)` with a traced `c` was a `TracerArrayConversionError`
  from NumPy (its docstring promises any stimulus without recompiling);
- `wang2002(n=20, f=0.49)` left no non-selective cell: the error named a `Population` of
  size 0, not `n` or `f`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.models import wang2002, wang2002_stimulus

N = 40  # the smallest sizes build in milliseconds


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(w_plus=True), TypeError, "w_plus must be a real number"),
        (dict(w_plus="1.7"), TypeError, "w_plus must be a real number"),
        (dict(f="0.15"), TypeError, "f must be a real number"),
        (dict(f=0.15 + 0j), TypeError, "f must be a real number"),
        (dict(f=np.array([0.15])), TypeError, "f must be a concrete number"),
        (dict(coherence=True, mu0=40.0), TypeError, "coherence c' must be a real number"),
        (dict(coherence="50", mu0=40.0), TypeError, "coherence c' must be a real number"),
        (dict(coherence=50 + 1j, mu0=40.0), TypeError, "coherence c' must be a real number"),
        (dict(mu0=True), TypeError, "mu0 must be a real number"),
        (dict(mu0="40"), TypeError, "mu0 must be a real number"),
        (dict(n=20, f=0.49), ValueError, "leave no non-selective pyramidal cell"),
    ],
)
def test_wang2002_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        wang2002(n=kwargs.pop("n", N), **kwargs)


def test_wang2002_legitimate_arguments():
    # the controls: NumPy and JAX scalars, integers
    net = wang2002(np.float32(51.2), jnp.asarray(40.0), n=np.int64(N), f=0.15, w_plus=2)
    assert float(net.drives[4].rate) == pytest.approx(40 * 1.512, rel=1e-3)
    assert float(net.drives[5].rate) == pytest.approx(40 * 0.488, rel=1e-3)
    assert isinstance(net.populations["I"].size, int)
    with pytest.raises(TypeError, match="coherence c'"):
        wang2002_stimulus(net, True, 40.0)


def test_wang2002_stimulus_traced():
    # a psychometric curve's stimuli in one call (vmap), compiled once (jit)
    net = wang2002(n=N)
    rates = jax.jit(
        jax.vmap(lambda c, mu: tuple(d.rate for d in wang2002_stimulus(net, c, mu).drives[4:]))
    )
    a, b = rates(jnp.array([0.0, 25.6]), jnp.array([40.0, 40.0]))
    np.testing.assert_allclose(a, [40.0, 40 * 1.256], rtol=1e-6)
    np.testing.assert_allclose(b, [40.0, 40 * 0.744], rtol=1e-6)
    # the same ranges as for concrete values, checked when the traced values are known
    for bad in ((150.0, 40.0), (10.0, -1.0), (float("nan"), 40.0)):
        with pytest.raises((ValueError, RuntimeError), match="coherence c' must be a percentage"):
            jax.block_until_ready(rates(jnp.array([0.0, bad[0]]), jnp.array([40.0, bad[1]])))
