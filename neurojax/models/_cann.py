"""Continuous attractor neural network of Wu, Hamaguchi & Amari (2008)."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, AbstractModel, Coupled, parameter


class CANNState(NamedTuple):
    u: Array  # synaptic input of each neuron, (..., n); dimensionless (as in the paper)


class CANN(AbstractModel):
    r"""One-dimensional continuous attractor network (Wu, Hamaguchi & Amari 2008, Neural
    Comput 20:994; Fung, Wong & Wu 2010, Neural Comput 22:752): `n` neurons with preferred
    stimuli `x` evenly spaced on the ring (−π, π], density ρ = n/2π,

    $$\tau \frac{du(x)}{dt} = -u(x) + \rho\!\int J(x - x')\,r(x')\,dx' + I_{ext}(x),
      \qquad r(x) = \frac{u(x)_+^2}{1 + k\rho\int u(x')_+^2\,dx'}$$

    $$J(d) = \frac{J_0}{\sqrt{2\pi}\,a}\,e^{-d^2/2a^2}$$ (d the distance on the ring).

    Without input, for `k < k_c = ρJ₀²/(8√(2π)a)`, the stationary bump is
    `u = u₀ e^{−(x−z)²/4a²}`, `r = r₀ e^{−(x−z)²/2a²}` with
    `u₀ = [1 + √(1 − k/k_c)]·J₀/(4√π a k)` and `r₀ = √2·u₀/(ρJ₀)` (`analytic_bump`), for
    any position z: a line attractor. Exact for a ≪ π (the ring's wrap-around is
    neglected).

    Units: time ms (`tau`); `u`, `r`, `J0`, `k` dimensionless as in the paper. Inputs:
    `(n_steps, *batch, n)` external input; `stimulus(z, amplitude)` builds the Gaussian
    `A·e^{−(x−z)²/4a²}` of the paper. Recurrent coupling `W @ r` acts inside the vector
    field: `Coupled`, so explicit `RK4` (the default) or the implicit solvers.
    """

    tau: Array = parameter(1.0, POSITIVE)  # ms
    k: Array = parameter(0.5, NON_NEGATIVE)  # global inhibition strength
    a: Array = parameter(0.5, POSITIVE)  # range of excitatory connections, rad
    j0: Array = parameter(1.0, POSITIVE)  # maximal recurrent excitation
    n: int = eqx.field(static=True, default=256)

    structure = Coupled()

    def __check_init__(self):
        # (equinox runs AbstractModel.__check_init__, the domain check, as well)
        if (
            isinstance(self.n, (bool, np.bool_))
            or not isinstance(self.n, (int, np.integer))
            or self.n < 1
        ):
            raise ValueError(f"CANN.n must be an int >= 1 (the number of neurons), got {self.n!r}.")

    @property
    def x(self) -> Array:
        """Preferred stimuli, rad, in (−π, π]."""
        return -math.pi + (jnp.arange(self.n) + 1) * (2 * math.pi / self.n)

    @property
    def rho(self) -> float:
        return self.n / (2 * math.pi)

    def _distance(self, x, z):
        d = jnp.abs(x - z) % (2 * math.pi)
        return jnp.minimum(d, 2 * math.pi - d)

    def weights(self) -> Array:
        """`J(x_i − x_j)`, `(n, n)`: ρ∫J r dx' becomes Σ_j J_ij r_j (ρ·dx = 1)."""
        d = self._distance(self.x[:, None], self.x[None, :])
        return self.j0 / (math.sqrt(2 * math.pi) * self.a) * jnp.exp(-(d**2) / (2 * self.a**2))

    def firing_rate(self, u: Array) -> Array:
        u2 = jnp.maximum(u, 0.0) ** 2
        return u2 / (1.0 + self.k * jnp.sum(u2, axis=-1, keepdims=True))

    def stimulus(self, z, amplitude) -> Array:
        """External input `A·e^{−(x−z)²/4a²}` centred at `z` (rad), shape `(*z.shape, n)`."""
        z = jnp.asarray(z)[..., None]
        return amplitude * jnp.exp(-(self._distance(self.x, z) ** 2) / (4 * self.a**2))

    def batch_shape(self, inputs):
        shape = tuple(jnp.shape(inputs))
        if not shape or shape[-1] != self.n:
            raise ValueError(
                f"CANN inputs must be shaped (n_steps, *batch, n={self.n}); got a step of "
                f"shape {shape}."
            )
        return shape[:-1]

    def init_state(self, batch_shape=()):
        return CANNState(u=jnp.zeros((*batch_shape, self.n), jnp.result_type(float)))

    def vector_field(self, t, y, inputs):
        rec = self.firing_rate(y.u) @ self.weights().T
        return CANNState(u=(-y.u + rec + inputs) / self.tau)

    def voltage(self, y):
        return y.u

    @property
    def default_solver(self):
        from ..solvers import RK4

        return RK4()

    def analytic_bump(self) -> tuple[float, float, float]:
        """`(u0, r0, k_c)` of the stationary bump without input (raises if k ≥ k_c)."""
        a, j0, k, rho = float(self.a), float(self.j0), float(self.k), self.rho
        k_c = rho * j0**2 / (8 * math.sqrt(2 * math.pi) * a)
        if not k < k_c:
            raise ValueError(
                f"no stationary bump: k = {k} >= k_c = {k_c:.4g} (global inhibition too strong)."
            )
        u0 = (1 + math.sqrt(1 - k / k_c)) * j0 / (4 * math.sqrt(math.pi) * a * k)
        return u0, math.sqrt(2) * u0 / (rho * j0), k_c

    def decode(self, u: Array) -> Array:
        """Population-vector estimate of the bump position (rad) from `u` (..., n)."""
        r = jnp.maximum(u, 0.0) ** 2
        return jnp.angle(jnp.sum(r * jnp.exp(1j * self.x), axis=-1))
