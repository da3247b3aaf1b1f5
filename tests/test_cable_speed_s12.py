"""The cable HH channel's shared-exponential rates (session 12, issue 21 item 1):
`neurojax.channels._builtin._hh_rates` gives the six rate functions of
`neurojax.channels.hh` with 2 `exp` instead of 6, and `HH.update` evaluates 5 `exp` per
compartment (was 9) — checked in the compiled program, where XLA would otherwise fold
the powers of one exponential back into separate `exp`s."""

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


@pytest.mark.slow  # ~1.2 CPU s (compiles)
def test_shared_rates_match_the_six_functions(x64):
    """float64, −150…100 mV (through the removable singularities of α_m at −40 and α_n at
    −55 mV). Tolerance 40 ulp relative: x⁸ carries ≲ 8× the error of x = exp(·) (≤ 1
    ulp) plus 3 roundings, and α_m's, α_n's `z/(eᶻ − 1)` another ≲ 4 eps (`vtrap`);
    measured ≤ 18.6 ulp. Slopes (what the gradient uses): 200 ulp, measured ≤ 64 (vtrap's
    slope alone is ~8 eps, `_rates.vtrap`, amplified where it is small)."""
    eps = float(jnp.finfo(jnp.float64).eps)
    v = jnp.linspace(-150.0, 100.0, 2501)

    @jax.jit
    def both(u):
        got = _builtin._hh_rates(u)
        slopes = [jax.vmap(jax.grad(lambda w, k=k: _builtin._hh_rates(w)[k]))(u)
                  for k in range(6)]  # fmt: skip
        refs = [f(u) for f in _SIX]
        ref_slopes = [jax.vmap(jax.grad(f))(u) for f in _SIX]
        return got, slopes, refs, ref_slopes

    got, slopes, refs, ref_slopes = both(v)
    for f, y, ref, g, g_ref in zip(_SIX, got, refs, slopes, ref_slopes, strict=True):
        assert np.all(np.isfinite(np.asarray(y)))
        assert float(jnp.max(jnp.abs(y - ref) / jnp.abs(ref))) < 40 * eps, f.__name__
        scale = jnp.max(jnp.abs(g_ref))
        assert float(jnp.max(jnp.abs(g - g_ref)) / scale) < 200 * eps, f.__name__


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
    """The optimization barrier inside the rates batches under `jax.vmap` (float32)."""
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


def test_update_compiles_to_five_exponentials():
    """5 `exp` per compartment in the compiled update (2 for the rates, 3 for the
    exponential-Euler factors): without the barrier XLA's simplifier turns `x·x` back
    into `exp(2u)` and the count would be 7."""
    assert _exponentials(_builtin.HH.update) == 5


@pytest.mark.slow  # ~0.5 CPU s, with the fast test above over 1 s
def test_the_count_sees_separate_exponentials():
    """The counting above would see the separate functions' 9 `exp` (it can fail)."""
    assert _exponentials(_separate_update) == 9
