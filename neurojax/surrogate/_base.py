"""Surrogate spike functions: Heaviside forward, smooth derivative backward."""

from __future__ import annotations

import abc
import functools
import math

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
    d = surrogate.derivative(x)
    if surrogate.scale != 1.0:
        d = surrogate.scale * d
    return _heaviside(surrogate, x), d * dx


class AbstractSurrogate(eqx.Module):
    """A spike function `H(x)`: exactly `0.0`/`1.0` in the forward pass (`x >= 0` spikes),
    with the smooth pseudo-derivative `derivative(x)` used by autodiff.

    `x` is the distance to threshold in the model's voltage unit (mV), so `slope` is in
    1/mV: the surrogate derivative has width ~1/slope mV around threshold.

    `scale` (dimensionless, default 1) multiplies the derivative: Bellec et al. (2018)'s
    dampening factor γ (they use 0.3 in recurrent networks). The smooth surrogates are
    nonzero below threshold, so every neuron's spike output has a derivative at every
    step, and each step adds `scale·derivative·w` to the sensitivity of its targets:
    summed over the 1/dt steps per ms, a recurrent network's gain grows with fan-in,
    weights and 1/dt, and the gradient through a long run can grow exponentially (the
    10⁴-neuron dendritic network of docs/dendritic.md at dt = 0.1 ms: 8e34 after 100 ms,
    then float32 overflow and NaN). A smaller scale slows that growth; `scale=0` holds the
    spikes fixed: the gradient is then the exact derivative of the run at its spike
    pattern — what a finite difference small enough to move no spike measures.
    """

    slope: float = eqx.field(static=True, default=5.0)
    scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if not self.slope > 0:
            raise ValueError(f"surrogate slope must be > 0, got {self.slope!r}")
        if (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, (int, float))
            or not (math.isfinite(self.scale) and self.scale >= 0)
        ):
            raise ValueError(
                f"surrogate scale must be a finite number >= 0 (a factor on the derivative; "
                f"1: unscaled, 0: spikes held fixed), got {self.scale!r}"
            )

    def __call__(self, x: ArrayLike) -> Array:
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        return _heaviside(self, x)

    @abc.abstractmethod
    def derivative(self, x: Array) -> Array:
        """The surrogate dH/dx; integrates to 1 over the real line (except straight-through)."""
