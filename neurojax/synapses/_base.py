"""`AbstractSynapse`: the kinetics of a population of synapses onto postsynaptic neurons."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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


def _short(x) -> list[float]:
    """Up to three values, each to 6 significant digits (float32 0.01 prints as 0.01)."""
    return [float(f"{v:.6g}") for v in np.asarray(x, dtype=float).ravel()[:3]]


def check_tau_resolved(owner: str, name: str, tau, dt) -> tuple:
    """A decay time constant shorter than the step: the synapse decays within one step,
    but the neuron sees its conductance (or current) through the step's quadrature, which
    over-counts the charge by `(x/2)·coth(x/2)` for `x = dt/τ` (×5 at τ = dt/10; the
    stated `(dt/τ)²/12` holds only for `dt ≪ τ`). Refused: raise for concrete values,
    return a `(bad, message)` pair for traced ones (`AbstractSynapse.check_call`)."""
    message = (
        f"{owner}.{name} is shorter than the time step dt: the synapse would decay within "
        "one step, and the charge it delivers would be wrong by a factor of about "
        "(dt/τ)/2 (the neuron sees it through the step). Use dt <= {name}, or a Delta "
        "synapse for an instantaneous jump."
    ).replace("{name}", name)
    if isinstance(dt, jax.core.Tracer) or isinstance(tau, jax.core.Tracer):
        return ((jnp.any(tau < dt), message),)
    tau_ = np.asarray(tau)
    if np.any(tau_ < float(dt)):
        raise ValueError(
            message.replace(
                "is shorter than",
                f"= {_short(tau_[tau_ < float(dt)])} ms is shorter than",
            ).replace("time step dt", f"time step dt = {float(dt):g} ms")
        )
    return ()


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
