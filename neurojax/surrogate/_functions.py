"""The concrete surrogate derivatives. Each integrates to 1 over x, so the size of the
gradient does not depend on the slope, only its width (Zenke & Vogels 2021)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import AbstractSurrogate


class Sigmoid(AbstractSurrogate):
    """Derivative of the logistic sigmoid `σ(slope·x)`: `slope·σ(1−σ)`."""

    def derivative(self, x: Array) -> Array:
        s = jax.nn.sigmoid(self.slope * x)
        return self.slope * s * (1 - s)


class FastSigmoid(AbstractSurrogate):
    """SuperSpike (Zenke & Ganguli 2018): `slope / (2 (1 + slope|x|)²)`, normalised to
    unit area."""

    def derivative(self, x: Array) -> Array:
        return self.slope / (2 * (1 + self.slope * jnp.abs(x)) ** 2)


class Arctan(AbstractSurrogate):
    """Derivative of `arctan(π·slope·x/2)/π + 1/2` (Fang et al. 2021)."""

    def derivative(self, x: Array) -> Array:
        return self.slope / (2 * (1 + (jnp.pi * self.slope * x / 2) ** 2))


class Triangle(AbstractSurrogate):
    """Piecewise-linear `max(0, slope·(1 − slope|x|))` (Esser et al. 2016, Bellec et al.
    2018): zero gradient farther than 1/slope from threshold."""

    def derivative(self, x: Array) -> Array:
        return self.slope * jnp.maximum(0.0, 1 - self.slope * jnp.abs(x))


class Gaussian(AbstractSurrogate):
    """Gaussian bump of standard deviation `1/slope`."""

    def derivative(self, x: Array) -> Array:
        z = self.slope * x
        return self.slope * jnp.exp(-0.5 * z**2) / jnp.sqrt(2 * jnp.pi)


class StraightThrough(AbstractSurrogate):
    """Straight-through estimator (Bengio et al. 2013): derivative `slope` inside
    `|x| < 1/(2·slope)`, zero outside (a box of unit area)."""

    def derivative(self, x: Array) -> Array:
        return jnp.where(jnp.abs(x) < 0.5 / self.slope, self.slope, 0.0).astype(x.dtype)
