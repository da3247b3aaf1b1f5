"""`gate_step`: a gate's exact exponential step in closed form, `x∞ + (x − x∞)·e^{λ·dt}`,
against the φ₁ form `exponential_step` computes (the same step), at every λ·dt including
λ = 0, with finite values and derivatives."""

import jax
import jax.numpy as jnp
import numpy as np

from neurojax.solvers._exponential_euler import (
    GATE_SERIES,
    exponential_step,
    gate_step,
)


def _cases(dtype):
    # λ·dt from 0 (λ = 0: no decay) through GATE_SERIES and up to strong decay; gates
    # x ∈ [0, 1] with x∞ ∈ [0, 1], f = λ·(x − x∞) as for α(1 − x) − βx
    z = np.concatenate([[0.0, -1e-9, -1e-5, -0.5 * GATE_SERIES, -GATE_SERIES],
                        -np.logspace(-2.9, 1.5, 40)])  # fmt: skip
    x = np.linspace(0.01, 0.99, z.size)
    x_inf = np.linspace(0.95, 0.02, z.size)
    dt = 0.025
    lam = z / dt
    f = lam * (x - x_inf)
    f[0] = 0.3  # λ = 0: a constant rate, x grows by f·dt
    return [jnp.asarray(a, dtype) for a in (x, f, lam)] + [jnp.asarray(dt, dtype)]


def test_gate_step_is_the_exponential_step(x64):
    x, f, lam, dt = _cases(jnp.float64)
    closed = gate_step(x, f, lam, dt)
    phi_form = exponential_step(x, f, lam, dt)
    # the same step in two forms: float64 rounding only (each is within a few eps of the
    # exact step; the closed form's error is ~eps·(|x∞| + |x − x∞|) ≤ 2 eps for gates)
    np.testing.assert_allclose(closed, phi_form, rtol=0, atol=1e-14)
    assert float(closed[0]) == float(x[0] + f[0] * dt)  # λ = 0: x + f·dt exactly
    # the exact solution x∞ + (x − x∞)·e^{λ·dt} where λ ≠ 0
    x_inf = x[1:] - f[1:] / lam[1:]
    exact = x_inf + (x[1:] - x_inf) * jnp.exp(lam[1:] * dt)
    np.testing.assert_allclose(closed[1:], exact, rtol=0, atol=1e-14)


def test_gate_step_float32_and_derivatives_finite():
    x, f, lam, dt = _cases(jnp.float32)
    out = gate_step(x, f, lam, dt)
    ref = exponential_step(x, f, lam, dt)
    # float32: both forms within a few eps of each other for values in [0, 1]
    np.testing.assert_allclose(out, ref, rtol=0, atol=4 * float(jnp.finfo(jnp.float32).eps))

    # the derivative is the φ₁ form's (custom JVP): equal to it, finite at λ = 0
    def total(fn):
        return jax.grad(lambda a: jnp.sum(fn(a[0], a[1], a[2], dt)))((x, f, lam))

    g_gate, g_phi = total(gate_step), total(exponential_step)
    for a, b in zip(g_gate, g_phi, strict=True):
        assert np.isfinite(np.asarray(a)).all()
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
