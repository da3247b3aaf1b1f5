"""Populations, projections and random drives: the parts a `Network` is built from."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._model import NON_NEGATIVE, AbstractModel, check_domains, parameter
from ..synapses import AbstractSynapse, TsodyksMarkram
from ._connectivity import AbstractConnectivity


class Population(eqx.Module):
    """`size` neurons of one model (any point neuron of `neurojax.neurons`; parameters
    scalars or arrays of shape `(size,)`)."""

    neuron: AbstractModel
    size: int = eqx.field(static=True)

    def __check_init__(self):
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, (int, np.integer))
            or self.size < 1
        ):
            raise ValueError(f"Population size must be a positive int, got {self.size!r}.")
        if not isinstance(self.neuron, AbstractModel):
            raise TypeError(
                f"Population needs a neurojax neuron model, got {type(self.neuron).__name__}."
            )


class Projection(eqx.Module):
    """Synapses from population `pre` onto population `post`, in BrainPy's order
    pre spikes → short-term plasticity (optional) → delay → connectivity → synapse → post.

    - `connectivity`: an `AbstractConnectivity` (`Sparse`, `Dense`, `OneToOne`) of shape
      `(size of pre, size of post)`; its weights are the trainable synaptic weights.
    - `synapse`: the postsynaptic kinetics (`neurojax.synapses`), one lumped state per
      postsynaptic neuron per projection.
    - `delay`: conduction delay, ms. A number: the same for every synapse, which must be 0
      (delivered at the end of the step of the spike, as Brian2 without delay) or a
      multiple of `dt` (an error otherwise). An array shaped like `connectivity.post`
      (`Sparse` only): per-synapse delays, rounded to the nearest step.
    - `stp`: optional `TsodyksMarkram` short-term plasticity of the presynaptic release.
    """

    pre: str = eqx.field(static=True)
    post: str = eqx.field(static=True)
    connectivity: AbstractConnectivity
    synapse: AbstractSynapse
    # Not static (arrays are unhashable); the Network turns it into whole steps when built.
    delay: float | ArrayLike = 0.0
    stp: TsodyksMarkram | None = None

    def __check_init__(self):
        if not isinstance(self.connectivity, AbstractConnectivity):
            raise TypeError(
                "Projection.connectivity must be a connectivity such as "
                "neurojax.network.fixed_probability(key, n_pre, n_post, p, weight), got "
                f"{type(self.connectivity).__name__}."
            )
        if not isinstance(self.synapse, AbstractSynapse):
            raise TypeError(
                "Projection.synapse must be a neurojax.synapses model, got "
                f"{type(self.synapse).__name__}."
            )


class PoissonDrive(eqx.Module):
    """External Poisson input onto population `target`: each neuron receives `n_sources`
    independent Poisson spike trains of `rate` Hz through `synapse` with weight `weight`.

    Sampled inside each step from the step's key (`simulate(..., key=key)`): the number of
    input spikes a neuron gets in a step is Poisson with mean `n_sources·rate·dt`
    (exact for the sum of independent Poisson trains). `rate` is a trainable parameter
    (≥ 0 Hz; its sampled spikes carry no gradient); `weight` in the synapse's unit."""

    target: str = eqx.field(static=True)
    synapse: AbstractSynapse
    rate: Array = parameter(10.0, NON_NEGATIVE)
    weight: Array = parameter(1.0)
    n_sources: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        check_domains(self)
        if (
            isinstance(self.n_sources, bool)
            or not isinstance(self.n_sources, (int, np.integer))
            or self.n_sources < 1
        ):
            raise ValueError(
                f"PoissonDrive n_sources must be a positive int, got {self.n_sources!r}."
            )

    def sample(self, key, shape, dt) -> Array:
        """Weighted input of one step: `weight × Poisson(n_sources·rate·dt)` per neuron."""
        lam = jax.lax.stop_gradient(self.n_sources * self.rate * dt * 1e-3)  # Hz·ms → count
        counts = poisson_counts(key, lam, shape)
        return self.weight * counts.astype(jnp.result_type(lam.dtype, self.weight.dtype))


def _inverse_cdf(key, lam, shape):
    """Poisson counts by inversion of one uniform per element: count = #{k : u > F(k)},
    with F summed term by term until every element is placed. Exact up to the uniform's
    resolution (2⁻²⁴ in float32: tails below 6e-8 are cut). For λ < 10 only."""
    lam = jnp.broadcast_to(lam, shape)
    u = jax.random.uniform(key, shape, lam.dtype)

    def cond(c):
        k, _, cdf, _ = c
        return jnp.any(u > cdf) & (k < 1000)

    def body(c):
        k, p, cdf, count = c
        count = count + (u > cdf)
        k = k + 1
        p = p * lam / k
        return k, p, cdf + p, count

    p0 = jnp.exp(-lam)
    return jax.lax.while_loop(cond, body, (0, p0, p0, jnp.zeros(shape, jnp.int32)))[3]


def poisson_counts(key, lam, shape):
    """Poisson(λ) samples of `shape` (λ ≥ 0, scalar or broadcastable).

    Why not `jax.random.poisson` alone: it evaluates both of its algorithms for every
    element and loops Knuth's method with a fresh uniform array per iteration; for the
    small per-step means of network drives (λ ~ 0.01–5) one uniform and an inverse CDF
    is ~10x cheaper (Brunel 2000 drives: 16 s → see benchmarks). For λ ≥ 10 it is used."""
    lam = jnp.asarray(lam)
    if lam.ndim == 0:
        return jax.lax.cond(
            lam < 10,
            lambda: _inverse_cdf(key, lam, shape),
            lambda: jax.random.poisson(key, lam, shape).astype(jnp.int32),
        )
    small = jnp.all(lam < 10)
    return jax.lax.cond(
        small,
        lambda: _inverse_cdf(key, jnp.minimum(lam, 10.0), shape),
        lambda: jax.random.poisson(key, jnp.broadcast_to(lam, shape), shape).astype(jnp.int32),
    )
