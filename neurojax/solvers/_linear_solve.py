"""Linear solvers for the implicit schemes: objects with `solve(operator, rhs)`."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


class AbstractLinearSolver(eqx.Module):
    """Solves `A x = b` for the implicit solvers. The gradient of a solve must be another
    solve with `Aᵀ` (never backpropagation through an elimination loop), so that a solve
    costs the same forward and backward: O(k³) per block here, O(N) for the cable tree
    solve (`neurojax.cable`)."""

    @abc.abstractmethod
    def solve(self, operator: Any, rhs: Any) -> Any: ...


class DenseSolve(AbstractLinearSolver):
    """LU solve of dense matrices `(..., k, k)` against `(..., k)`, batched over leading
    axes (one small block per neuron of an `Elementwise` model, one matrix for a `Coupled`
    one). `jnp.linalg.solve` is differentiated by JAX through `lax.custom_linear_solve`:
    the cotangent is one solve with the transposed LU factors, not a backward pass
    through the factorisation loop. For small coupled models (≲ 10³ unknowns)."""

    def solve(self, operator: Float[Array, "*b k k"], rhs: Float[Array, "*b k"]) -> Array:
        return jnp.linalg.solve(operator, rhs[..., None])[..., 0]
