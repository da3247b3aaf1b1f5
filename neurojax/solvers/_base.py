"""The solver contract: one time step of a model's continuous state."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax.tree_util as jtu
from jaxtyping import ArrayLike

from .._model import AbstractStructure, Coupled, Elementwise, Tree

State = Any


class AbstractSolver(eqx.Module):
    """Advances a model's continuous state by one step `dt` of its vector field, holding
    the step's inputs constant (zero-order hold).

    Solvers only integrate `model.vector_field`; threshold, reset, refractoriness and
    everything else discrete is the model's `event_step`, applied by `simulate` after the
    solver step. `structures` lists the model structures (`Elementwise`, `Coupled`,
    `Tree`) the solver can integrate; `simulate` refuses any other before tracing.
    """

    structures: ClassVar[tuple[type[AbstractStructure], ...]] = (Elementwise, Coupled)

    @abc.abstractmethod
    def step(self, model, t: ArrayLike, y: State, inputs: Any, dt: ArrayLike) -> State:
        """Return the continuous state at `t + dt` given the state at `t` (ms)."""


def check_solver_fits(solver: AbstractSolver, model) -> None:
    """`TypeError` naming a solver that fits when `solver` cannot integrate `model`."""
    structure = model.structure
    if isinstance(structure, solver.structures):
        return
    if isinstance(structure, Elementwise):
        use = "neurojax.ExponentialRK2() or neurojax.ExponentialEuler() (point neurons)"
    elif isinstance(structure, Tree):
        use = (
            "neurojax.TRBDF2(), neurojax.CrankNicolson() or neurojax.BackwardEuler() "
            "(implicit tree solve)"
        )
    else:
        use = (
            "neurojax.Rosenbrock2() or neurojax.BackwardEuler() (implicit, stable for stiff "
            "coupling), or neurojax.RK4() (explicit, needs a small dt)"
        )
    why = {
        Elementwise: "it is a point neuron (or a population of them), whose Jacobian has a "
        "growing mode on every upstroke that makes a linearly implicit step meaningless",
        Coupled: "its state variables couple their own elements (a dense Jacobian)",
        Tree: "it is a cable: compartments coupled along a tree",
    }.get(type(structure), f"its structure is {type(structure).__name__}")
    raise TypeError(
        f"{type(solver).__name__} cannot integrate {type(model).__name__}: {why}, and "
        f"{type(solver).__name__} handles only "
        f"{', '.join(s.__name__ for s in solver.structures)} models. Use {use}."
    )


def axpy(a, x: State, y: State) -> State:
    """`y + a·x` leafwise over two states of the same structure."""
    return jtu.tree_map(lambda xi, yi: yi + a * xi, x, y)
