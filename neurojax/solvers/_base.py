"""The solver contract: one time step of a model's ODE part."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.tree_util as jtu
from jaxtyping import Array, ArrayLike

State = Any


class AbstractSolver(eqx.Module):
    """Advances a model's state by one step `dt` of its vector field, holding the injected
    current constant over the step (zero-order hold).

    Solvers only integrate `model.vector_field`; threshold, reset and refractoriness are
    the model's `post_step`, applied by `simulate` after the solver step. A model with a
    coupled implicit part (a cable, solved by a tree solve) overrides that step with a
    solver of its own; the contract is the same one method.
    """

    @abc.abstractmethod
    def step(self, model, t: ArrayLike, state: State, current: Array, dt: ArrayLike) -> State:
        """Return the state at `t + dt` given the state at `t` (ms)."""


def axpy(a, x: State, y: State) -> State:
    """`y + a·x` leafwise over two states of the same structure."""
    return jtu.tree_map(lambda xi, yi: yi + a * xi, x, y)
