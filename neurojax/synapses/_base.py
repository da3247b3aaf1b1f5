"""`AbstractSynapse`: the kinetics of a population of synapses onto postsynaptic neurons."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._model import as_float, check_domains

SynapseState = Any
"""A synapse's state: a NamedTuple of arrays, one element per postsynaptic neuron (or
per synapse when the caller keeps one state per synapse)."""


class AbstractSynapse(eqx.Module):
    """Synaptic kinetics in the optax style: explicit state, pure functions.

    - `init(shape)` — the resting state (all channels closed), arrays of `shape`.
    - `vector_field(state, v)` — `d state/dt` (per ms) between presynaptic events: the
      smooth part, integrated by the solver together with the neurons. Every element
      depends only on itself (and on the same element of `v`), so exponential Euler
      applies.
    - `on_arrival(state, x, dt)` — the discrete jump after a step in which presynaptic
      spikes with summed weight `x` arrived (dimensionless for kinetic synapses, µS or nA
      for the others; see each class). Also advances timers (transmitter pulses).
    - `current(state, v)` — the synaptic current into the neuron, nA, positive
      depolarising: `g·(e_rev − v)` for conductance-based synapses (g in µS, v in mV),
      `g` itself (nA) for current-based ones.

    Linear synapses (exponential, dual-exponential, alpha) are exactly lumpable: one state
    per postsynaptic neuron carries the sum of all its synapses. The kinetic (saturating)
    models are lumped in the same way, which is exact for one synapse per neuron and the
    usual mean-field approximation otherwise (documented on each class).
    """

    def __check_init__(self):
        check_domains(self)

    @property
    def conductance_based(self) -> bool:
        """Whether the arriving weights are conductances (µS) or transmitter amounts —
        which must be >= 0 — rather than signed currents (nA) or voltage jumps (mV).
        True when the synapse has a reversal potential."""
        return getattr(self, "e_rev", None) is not None

    def check_call(self, dt) -> tuple:
        """Checks that need the step `dt` (ms) or relate traced parameters, once per
        `simulate` call of the network holding the synapse (`AbstractModel.check_call`):
        raise `ValueError` for concrete values, return `(bad, message)` pairs for traced
        ones. Default: none."""
        return ()

    @abc.abstractmethod
    def init(self, shape: tuple[int, ...]) -> SynapseState: ...

    @abc.abstractmethod
    def vector_field(self, state: SynapseState, v: Array) -> SynapseState: ...

    @abc.abstractmethod
    def on_arrival(self, state: SynapseState, x: Array, dt: ArrayLike) -> SynapseState: ...

    @abc.abstractmethod
    def current(self, state: SynapseState, v: Array) -> Array: ...


def drive(g: Array, e_rev: Array | None, v: Array) -> Array:
    """Current (nA) of conductance `g` (µS) with reversal `e_rev` (mV) at `v` (mV), or `g`
    itself (nA) when `e_rev is None` (a current-based synapse)."""
    if e_rev is None:
        return g
    return g * (e_rev - v)


def zeros(shape: tuple[int, ...]) -> Array:
    return jnp.zeros(shape, dtype=jnp.result_type(float))


def optional_parameter(default: float | int | None, domain=None):
    """A parameter that may be `None` (the reversal potential of a current-based synapse)."""
    from .._model import REAL

    return eqx.field(
        default=default,
        converter=lambda x: None if x is None else as_float(x),
        metadata={"domain": domain or REAL},
    )
