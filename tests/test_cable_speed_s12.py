"""The cable HH channel's update through the point neuron's shared-exponential rates
(`neurojax.channels.hh.rates`, 3 `exp` for the six; session 12, issue 21 item 1):
the same as through the six separate rate functions, and 6 `exp` per compartment (was 9)
in the compiled program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.channels import _builtin, hh
from neurojax.channels._base import relax

_SIX = (hh.alpha_m, hh.beta_m, hh.alpha_h, hh.beta_h, hh.alpha_n, hh.beta_n)


def _separate_update(ch, v, gates, dt, temperature):
    """`HH.update` with the six separate rate functions (9 `exp`): the reference."""
    phi = hh.q10(temperature)
    out = []
    for x, alpha, beta in zip(gates, _SIX[0::2], _SIX[1::2], strict=True):
        a, b = alpha(v), beta(v)
        out.append(relax(x, a / (a + b), phi * (a + b), dt))
    return out


@pytest.mark.slow  # ~1.5 CPU s (compiles)
def test_update_matches_separate_rates_and_differentiates(x64):
    """One `HH.update` away from the steady state, float64, and its derivative w.r.t.
    V: the same to round-off as the update through the six separate functions."""
    ch = _builtin.HH()
    v = jnp.linspace(-90.0, 40.0, 1001)
    gates = ch.init(v + 7.0, 6.3)  # the gates of another voltage: far from x∞(V)

    def total(u, f):
        return sum(jnp.sum(x) for x in f(ch, u, gates, 0.025, 6.3))

    @jax.jit
    def run(u):
        return (
            ch.update(u, gates, 0.025, 6.3),
            _separate_update(ch, u, gates, 0.025, 6.3),
            jax.grad(total)(u, _builtin.HH.update),
            jax.grad(total)(u, _separate_update),
        )

    got, ref, g, g_ref = run(v)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-11, atol=1e-14)


def test_update_vmaps():
    """The update batches under `jax.vmap` (float32), the same bit for bit."""
    ch = _builtin.HH()
    v = jnp.linspace(-80.0, 20.0, 12).reshape(3, 4)
    gates = ch.init(v, 6.3)
    mapped, whole = jax.jit(lambda u, g: (jax.vmap(lambda a, b: ch.update(a, b, 0.025, 6.3))(
        u, g), ch.update(u, g, 0.025, 6.3)))(v, gates)  # fmt: skip
    for a, b in zip(mapped, whole, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _exponentials(f, dtype=jnp.float32):
    ch = _builtin.HH()
    v = jnp.linspace(-80.0, 20.0, 64, dtype=dtype)
    gates = ch.init(v, 6.3)
    text = jax.jit(lambda u, g: f(ch, u, g, 0.025, 6.3)).lower(v, gates).compile().as_text()
    return text.count(" exponential(")


def test_update_compiles_to_six_exponentials():
    """6 `exp` per compartment in the compiled update (3 for the rates, 3 for the
    exponential-Euler factors): XLA's simplifier would turn a product of two `exp`s back
    into one `exp` of the sum (`hh.rates` avoids that form)."""
    assert _exponentials(_builtin.HH.update) == 6


@pytest.mark.slow  # ~0.5 CPU s, with the fast test above over 1 s
def test_the_count_sees_separate_exponentials():
    """The counting above would see the separate functions' 9 `exp` (it can fail)."""
    assert _exponentials(_separate_update) == 9
