"""`AbstractModel`: the contract every simulated thing satisfies (neurons, cells, networks)."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

State = Any
"""A model's state: a pytree (a NamedTuple per model) of arrays shaped like the population."""


def as_float(x) -> Array:
    """Field converter: parameters become floating arrays, so `jax.grad` and
    `eqx.filter_grad` reach them and integer literals (`v_rest=-65`) behave."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def parameter(default: float):
    """A model parameter: an array leaf with a published default."""
    return eqx.field(default=default, converter=as_float)


class AbstractModel(eqx.Module):
    """Anything `neurojax.simulate` steps: a pure-function equinox module whose array
    fields are its parameters.

    - `init_state(batch_shape)` — the initial state for inputs shaped `(n_steps, *batch_shape)`;
      raises `ValueError` if that shape does not fit the model.
    - `vector_field(t, state, current)` — `d state/dt`, the smooth ODE part.
    - `post_step(t, state, new_state, dt)` — discrete events after each solver step
      (threshold, reset, refractoriness, synaptic jumps); returns `(state, spikes)`.
    - `voltage(state)` — the membrane potential recorded as `Solution.v`.
    - `default_solver` — the scheme used when `simulate(..., solver=None)`.
    """

    @abc.abstractmethod
    def init_state(self, batch_shape: tuple[int, ...] = ()) -> State: ...

    @abc.abstractmethod
    def vector_field(self, t: ArrayLike, state: State, current: Array) -> State: ...

    def post_step(self, t: ArrayLike, state: State, new_state: State, dt: ArrayLike):
        """No events by default: returns `new_state` and no spikes."""
        return new_state, jnp.zeros_like(self.voltage(new_state))

    def voltage(self, state: State) -> Array:
        return state.v

    @property
    def default_solver(self):
        from .solvers import ExponentialEuler

        return ExponentialEuler()
