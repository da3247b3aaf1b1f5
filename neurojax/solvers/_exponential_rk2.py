from __future__ import annotations

import math

import jax.numpy as jnp
import jax.tree_util as jtu

from ._base import AbstractSolver
from ._exponential_euler import _Z_MAX, PHI_SERIES, diagonal_jacobian, phi1, taylor

# φ₂(z) = Σ zᵏ/(k+2)!, cut after z¹²: the next term at |z| = 0.5 is 0.5¹³/15! ≈ 9e-17
_PHI2_COEFFS = tuple(1 / math.factorial(k + 2) for k in range(13))


def phi2(z):
    """`(eᶻ − 1 − z)/z²` (→ 1/2 at 0), with its removable singularity at 0 handled for
    values and gradients."""
    small = jnp.abs(z) < PHI_SERIES
    z_safe = jnp.where(small, 1.0, z)
    closed = (jnp.exp(z_safe) - 1.0 - z_safe) / z_safe**2
    return jnp.where(small, taylor(z, _PHI2_COEFFS), closed)


class ExponentialRK2(AbstractSolver):
    r"""Second-order exponential Runge–Kutta (ETD2RK of Cox & Matthews 2002), with the
    diagonal of the Jacobian as the linear part.

    Each variable is split as `f(x) = λx + N(x)`, `λ = ∂fᵢ/∂xᵢ` at the start of the step
    (by autodiff, as in `ExponentialEuler`). An exponential-Euler predictor, then a
    correction for the change of the nonlinear part over the step:

    $$a = x_0 + dt\,\varphi_1(\lambda dt)\,f(x_0),\qquad
      x_1 = a + dt\,\varphi_2(\lambda dt)\,\big(N(a) - N(x_0)\big)$$

    with `φ₁(z) = (eᶻ − 1)/z`, `φ₂(z) = (eᶻ − 1 − z)/z²` and
    `N(a) − N(x₀) = f(a) − f(x₀) − λ(a − x₀)`.

    Second order (halving `dt` divides the error by 4), exact for the gates at fixed V as
    exponential Euler is, and stable for the stiff decaying modes. Cost: one vector-field
    evaluation more than `ExponentialEuler`. For Hodgkin–Huxley at dt = 0.025 ms it is
    about 14× more accurate in spike times than `ExponentialEuler` and 5× more than
    NEURON's default fixed step (see `tests/test_hh_neuron.py`).

    Reference: Cox & Matthews (2002) J Comput Phys 176:430–455 (their ETD2RK);
    Hochbruck & Ostermann (2010) Acta Numerica 19:209–286.
    """

    def step(self, model, t, state, current, dt):
        f0, lam = diagonal_jacobian(model, t, state, current)
        # The same cap on λ·dt as ExponentialEuler; the capped λ is used throughout so that
        # the split f = λx + N(x) stays consistent.
        lam = jtu.tree_map(lambda l: jnp.minimum(l, _Z_MAX / dt), lam)
        a = jtu.tree_map(lambda x, f, l: x + dt * phi1(l * dt) * f, state, f0, lam)
        fa = model.vector_field(t + dt, a, current)

        def correct(ai, x, f, g, l):
            return ai + dt * phi2(l * dt) * (g - f - l * (ai - x))

        return jtu.tree_map(correct, a, state, f0, fa, lam)
