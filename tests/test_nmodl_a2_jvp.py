"""The NMODL importer's hand-written derivatives (session 12, A2's patch): cnexp's update
`x + f·dt·φ(b·dt)` and the `z/(eᶻ − 1)` forms against JAX's own derivative of the same
expressions, across every branch and its edges, in float64 and float32."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurojax.channels._rates import _SERIES, vtrap
from neurojax.nmodl import _compile

# slow tier: ~1 s each (x64 compiles of every branch); the fast tier differentiates these
# rules through the NMODL mechanisms' gradient tests
pytestmark = pytest.mark.slow


def _zs(dtype):
    mags = [0.0, 1e-8, 9.99e-7, 1.001e-6, 1e-4, 0.0999, 0.1, 0.1001, 0.3, 0.4999, 0.5, 0.5001,
            1.0, 3.0, 20.0, 60.0]  # fmt: skip
    return jnp.asarray([s * m for m in mags for s in (1.0, -1.0)], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_phi_prime_matches_the_derivative_of_phi(x64, dtype):
    z = _zs(dtype)
    p = _compile._phi(z)
    want = jax.vmap(jax.grad(_compile._phi))(z)
    got = _compile._phi_prime(z, p)
    # JAX's derivative of the expm1 form is itself inexact near 0 (`1 + z/2` below 1e-6
    # gives exactly 1/2, expm1(z)/z's slope loses ~ε/|z|): compared with the exact
    # series there; elsewhere both within ~20 ε relative (the cancellation bound)
    zl = np.asarray(z, np.longdouble)
    series = sum((k + 1) / math.factorial(k + 2) * zl**k for k in range(30))  # |z| < 1
    with np.errstate(all="ignore"):
        closed = (np.exp(zl) * (zl - 1) + 1) / zl**2  # |z| ≥ 1: cancellation ≤ ~ε_longdouble
    exact = np.where(np.abs(zl) < 1, series, closed).astype(np.float64)
    eps = float(jnp.finfo(dtype).eps)
    # (1 + (z − 1)·φ)/z cancels ~20 ε near |z| = 0.1 and ~|z|·ε for large negative z
    # (φ ≈ −1/z: the two terms agree but for 1/z); JAX's derivative (expm1' = 1 + expm1)
    # rounds the same way there
    bound = 40 * eps * np.maximum(1.0, np.abs(np.asarray(z, np.float64)))
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert np.all(np.abs(got - exact) <= bound * np.abs(exact)), (got, exact)
    far = np.abs(np.asarray(z)) >= 0.1
    assert np.all(np.abs(got - want)[far] <= 2 * (bound * np.abs(exact))[far]), (got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cnexp_update_derivative_matches_jax(x64, dtype):
    def plain(x, fx, b, dt):
        return x + fx * dt * _compile._phi(b * dt)

    z = _zs(dtype)
    dt = jnp.full_like(z, 0.025)
    b = z / 0.025
    x, fx = jnp.full_like(z, 0.3), jnp.full_like(z, -1.7)
    args = (x, fx, b, dt)
    eps = float(jnp.finfo(dtype).eps)
    for i in range(4):
        t = [jnp.zeros_like(z)] * 4
        t[i] = jnp.ones_like(z)
        out, d = jax.jvp(_compile._cnexp_update, args, tuple(t))
        out0, d0 = jax.jvp(plain, args, tuple(t))
        np.testing.assert_array_equal(np.asarray(out), np.asarray(out0))  # same primal
        # away from |z| < 0.1 JAX's form is exact to ~20 ε; below, it loses ~ε/|z|
        ok = np.abs(np.asarray(z)) >= 0.1
        scale = np.abs(np.asarray(d0)).max()
        np.testing.assert_allclose(np.asarray(d)[ok], np.asarray(d0)[ok], rtol=40 * eps,
                                   atol=40 * eps * scale)  # fmt: skip
    # reverse mode: one cotangent through all four inputs
    g = jax.grad(lambda *a: _compile._cnexp_update(*a).sum(), argnums=(0, 1, 2, 3))(*args)
    assert all(np.all(np.isfinite(np.asarray(gi))) for gi in g)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vtrap_derivative_matches_jax(x64, dtype):
    z = _zs(dtype)
    eps = float(jnp.finfo(dtype).eps)
    got = jax.vmap(jax.grad(_compile._vtrap1))(z)
    want = jax.vmap(jax.grad(lambda u: vtrap(u, 1.0)))(z)
    # the closed form's branch: v(1 − v)/z − v rounds to ≤ ~4 ε of its size (the two
    # terms ~1/z cancel to −1/2 at |z| = 0.5); the series branch is JAX's own
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=20 * eps, atol=20 * eps)
    assert float(jnp.abs(z).max()) > _SERIES  # both branches covered
    np.testing.assert_array_equal(
        np.asarray(_compile._vtrap(z * 3.0, 3.0)), np.asarray(vtrap(z * 3.0, 3.0))
    )
    # numpy inputs and integer arrays go to the plain function
    assert _compile._vtrap(np.float64(0.0), 2.0) == vtrap(np.float64(0.0), 2.0)
