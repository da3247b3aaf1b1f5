"""Linear solvers for the implicit schemes: objects with `solve(operator, rhs)`."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._gather import apply
from ._tree_solve import METHODS, TreeTopology, tree_solve


class AbstractLinearSolver(eqx.Module):
    """Solves `A x = b` for the implicit solvers. The gradient of a solve must be another
    solve with `Aᵀ` (never backpropagation through an elimination loop), so that a solve
    costs the same forward and backward: O(k³) per block for `DenseSolve`, O(N) for
    `TreeSolve`."""

    @abc.abstractmethod
    def solve(self, operator: Any, rhs: Any) -> Any: ...


class DenseSolve(AbstractLinearSolver):
    """LU solve of dense matrices `(..., k, k)` against `(..., k)`, batched over leading
    axes (one small block per neuron of an `Elementwise` model, one matrix for a `Coupled`
    one). `jnp.linalg.solve` is differentiated by JAX through `lax.custom_linear_solve`:
    the cotangent is one solve with the transposed LU factors, not a backward pass
    through the factorisation loop. For small coupled models (≲ 10³ unknowns)."""

    def solve(
        self, operator: "Float[Array, '*b k k'] | TreeOperator", rhs: Float[Array, "*b k"]
    ) -> Array:
        if isinstance(operator, TreeOperator):  # densified: O(N³), for checks on small trees
            operator = operator.as_matrix()
        return jnp.linalg.solve(operator, rhs[..., None])[..., 0]


class TreeOperator(eqx.Module):
    r"""A matrix `M` (N × N) on a tree, the structure of a cable's voltage equations:
    nonzero only on the diagonal and between a compartment and its parent.

    - `topology`: a `TreeTopology` (`parent[i] < i`, the root 0), static.
    - `diagonal`: `M[i, i]`, `(*batch, N)`.
    - `lower`: `M[i, parent[i]]` (row i, the parent's column; ignored at the root).
    - `upper`: `M[parent[i], i]` (the parent's row, column i; ignored at the root).

    A `Tree` model's `linearise` gives its voltage Jacobian in this form (`M = −∂F/∂V`:
    membrane slope conductances plus the axial Laplacian, µS), and `TreeSolve` solves
    with it in O(N) (Hines 1984)."""

    topology: TreeTopology = eqx.field(static=True)
    diagonal: Array
    lower: Array
    upper: Array

    def mv(self, x: Float[Array, "*b n"]) -> Array:
        """`M x`, O(N), by gathers only (parent and children tables)."""
        topo = self.topology
        has_parent = jnp.asarray(topo.parent >= 0)
        # `StaticMap`s: gathers, and gathers again in a gradient (`neurojax._gather`)
        down = jnp.where(has_parent, self.lower * apply(topo.of_parent, x), 0.0)
        up = jnp.where(has_parent, self.upper * x, 0.0)  # into the parent's row
        return self.diagonal * x + down + apply(topo.over_children, up)

    def as_matrix(self) -> Array:
        """The dense `(*batch, N, N)` matrix (for tests and small trees)."""
        topo = self.topology
        n = topo.n
        idx = jnp.arange(1, n)
        par = jnp.asarray(topo.parent[1:])
        shape = jnp.broadcast_shapes(self.diagonal.shape, self.lower.shape, self.upper.shape)
        d, lo, up = (jnp.broadcast_to(x, shape) for x in (self.diagonal, self.lower, self.upper))
        m = jnp.zeros((*shape, n), d.dtype)
        m = m.at[..., jnp.arange(n), jnp.arange(n)].set(d)
        m = m.at[..., idx, par].set(lo[..., 1:])
        return m.at[..., par, idx].set(up[..., 1:])


class TreeSolve(AbstractLinearSolver):
    """Exact O(N) solve of a `TreeOperator` system (Hines elimination from the leaves, no
    fill-in), batched over leading axes; the gradient is one more tree solve with `Mᵀ`
    (`lax.custom_linear_solve`), O(N) as well. The linear solver of `Tree` models (cable
    cells) in `BackwardEuler`, `CrankNicolson` and `TRBDF2`.

    - `method`: the elimination schedule, `"branches"` (the interiors of all unbranched
      chains eliminated at once, the reduced tree of chain ends by `"hines"`; it runs
      `"hines"` itself for batches and for trees whose chains fall into > 8 groups of
      equal length), `"hines"` (one compiled loop over the compartments) or `"levels"`
      (one step per height level: fewest sequential steps, for accelerators); `None`
      (default): `"branches"` on CPU, `"levels"` elsewhere (`neurojax.cable.tree_solve`)."""

    method: str | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"TreeSolve(method={self.method!r}): use one of {METHODS} or None.")

    def solve(self, operator: Any, rhs: Float[Array, "*b n"]) -> Array:
        if not isinstance(operator, TreeOperator):
            raise TypeError(
                f"TreeSolve solves a TreeOperator, got {type(operator).__name__}; dense "
                "matrices go to DenseSolve()."
            )
        return tree_solve(
            operator.topology,
            operator.diagonal,
            operator.upper,
            operator.lower,
            rhs,
            method=self.method,
        )
