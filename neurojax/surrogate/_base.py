"""Surrogate spike functions: Heaviside forward, smooth derivative backward."""

from __future__ import annotations

import abc
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _heaviside(surrogate: AbstractSurrogate, x: Array) -> Array:
    return (x >= 0).astype(x.dtype)


@_heaviside.defjvp
def _heaviside_jvp(surrogate, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _heaviside(surrogate, x), surrogate.derivative(x) * dx


class AbstractSurrogate(eqx.Module):
    """A spike function `H(x)`: exactly `0.0`/`1.0` in the forward pass (`x >= 0` spikes),
    with the smooth pseudo-derivative `derivative(x)` used by autodiff.

    `x` is the distance to threshold in the model's voltage unit (mV), so `slope` is in
    1/mV: the surrogate derivative has width ~1/slope mV around threshold.
    """

    slope: float = eqx.field(static=True, default=5.0)

    def __check_init__(self):
        if not self.slope > 0:
            raise ValueError(f"surrogate slope must be > 0, got {self.slope!r}")

    def __call__(self, x: ArrayLike) -> Array:
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return _heaviside(self, x)

    @abc.abstractmethod
    def derivative(self, x: Array) -> Array:
        """The surrogate dH/dx; integrates to 1 over the real line (except straight-through)."""
