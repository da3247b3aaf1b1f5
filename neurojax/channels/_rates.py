from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array


def vtrap(x: Array, y: float) -> Array:
    """`x / (exp(x/y) − 1)`, the HH-type rate form, with its removable singularity at
    `x = 0` (limit `y`) evaluated by a series so that values AND gradients are finite there.

    The two-sided `where` keeps the unused branch's NaN out of the gradient.
    """
    z = x / y
    small = jnp.abs(z) < 1e-2
    z_safe = jnp.where(small, 1.0, z)
    # z/(e^z − 1) = 1 − z/2 + z²/12 − z⁴/720 + …; at |z| < 1e-2 the next term is < 1e-14
    return y * jnp.where(small, 1.0 - z / 2 + z**2 / 12 - z**4 / 720, z_safe / jnp.expm1(z_safe))
