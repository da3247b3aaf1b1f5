"""The scheme `simulate` uses when no solver is given: the model's own choice where it
declares one, otherwise one that fits the model's declared structure."""

from __future__ import annotations

from .._model import Coupled, Elementwise, Tree
from ._base import AbstractSolver
from ._exponential_euler import ExponentialEuler
from ._implicit import TRBDF2
from ._rk4 import RK4


def default_solver(model) -> AbstractSolver:
    """The solver `simulate(model, ..., solver=None)` uses.

    `model.default_solver` where the model declares one (HH: `Staggered`, cables:
    `TRBDF2`); otherwise by `model.structure`, so that a model written from
    `AbstractModel`'s docstring (only `init_state` and `vector_field`) simulates with every
    default:

    - `Elementwise` → `ExponentialEuler()`: exact for gates at fixed V and for linear
      decay; stable at any dt.
    - `Coupled` → `RK4()`: integrates any Jacobian, 4th order (explicit: it needs a dt
      below its stability limit; beyond, `simulate` reports NaN/inf with the variable and
      the time).
    - `Tree` → `TRBDF2()`: the implicit tree solve, 2nd order and L-stable (no ringing
      after clamp steps or input jumps).
    """
    declared = model.default_solver
    if declared is not None:
        return declared
    structure = model.structure
    if isinstance(structure, Elementwise):
        return ExponentialEuler()
    if isinstance(structure, Tree):
        return TRBDF2()
    if isinstance(structure, Coupled):
        return RK4()
    raise TypeError(
        f"{type(model).__name__} declares the structure {type(structure).__name__}, for "
        "which neurojax has no default solver; pass simulate(..., solver=...) explicitly."
    )
