"""The mechanism contract: what every membrane mechanism (density channel or point
process) of a cable `Cell` gives, whether built in (`HH`, `Passive`, `Ih`, `Im`) or
imported from NMODL (`neurojax.nmodl.load_mod`).

A channel is an equinox module whose array fields are its parameters (scalars, or one
value per compartment of the region it is inserted in: trainable like any other leaf).
It has gates (a NamedTuple of arrays shaped like the region's voltages) and gives

- `init(v, temperature)` → gates at their steady state at `v` (NEURON's `INITIAL`);
- `current(v, gates)` → membrane current density, µA/cm², outward positive;
- `update(v, gates, dt, temperature)` → the gates after `dt` ms, by exponential Euler
  with the rates at `v` (NEURON's `cnexp`, exact for a gate at fixed V).

Units: mV, ms, conductance densities mS/cm² (NEURON's S/cm² × 1000: `gnabar_hh = 0.12`
is `g_na = 120`), currents µA/cm², temperature °C.

The cell linearises `current` in V exactly (one JVP) for its implicit voltage step, so
any current–voltage relation works; for the ohmic channels here the linearisation is
exact. `update` is the gates' own rule, which the implicit solvers apply at the new
voltages after the voltage solve (`Cell.advance_gates`, NEURON's staggered order), and
its derivative in `dt` at 0 is the gates' true rate in `Cell.vector_field` (for a
consistent rule that is `dx/dt` exactly): no rate function is written twice.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._model import check_domains


def relax(x, x_inf, rate, dt):
    """Exponential Euler for `dx/dt = rate·(x_inf − x)`: exact at fixed V."""
    return x_inf + (x - x_inf) * jnp.exp(-dt * rate)


class AbstractChannel(eqx.Module):
    """A density mechanism (see the module docstring for the contract and units).
    Parameters outside their domain (a negative conductance, NaN) are refused when the
    channel is built."""

    # True for a mechanism that reads the time: the cell then passes `t=` (ms) to
    # `current` (mid-step, as NEURON's fixed step) and `update` (the step's end).
    uses_time: ClassVar[bool] = False

    def __check_init__(self):
        check_domains(self)

    @abc.abstractmethod
    def init(self, v: Array, temperature: Array) -> Any: ...

    @abc.abstractmethod
    def current(self, v: Array, gates: Any) -> Array: ...

    @abc.abstractmethod
    def update(self, v: Array, gates: Any, dt: Array, temperature: Array) -> Any: ...


class AbstractPointProcess(AbstractChannel):
    """A point process at one node (NEURON's `POINT_PROCESS`: a synapse, an electrode):
    the `AbstractChannel` contract with its arrays shaped `(*batch, 1)`, except that
    `current(v, gates)` is in **nA** (outward positive) rather than a density, and
    `receive(v, gates, weight)` gives the gates after an event of `weight` (NEURON's
    `NET_RECEIVE`; `n_receive = 0` for a point process that takes no events)."""

    n_receive: ClassVar[int] = 0

    def receive(self, v: Array, gates: Any, weight: Array) -> Any:
        raise TypeError(f"{type(self).__name__} takes no events (no NET_RECEIVE).")


class NoGates(NamedTuple):
    pass


