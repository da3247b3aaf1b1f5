"""Linearly implicit (Rosenbrock-type) solvers for stiff and coupled models."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax.flatten_util import ravel_pytree

from .._model import Coupled, Elementwise, Tree
from ._base import AbstractSolver
from ._linear_solve import AbstractLinearSolver, DenseSolve


class _Linearised(eqx.Module):
    """A model's vector field around `y₀` in flat coordinates: `f(x)`, `J = ∂f/∂x` at `y₀`,
    and the maps between the state pytree and the flat vector. For an `Elementwise` model
    the flat vector is `(..., k)` (k leaves per element) and `J` a `k×k` block per element
    (O(N·k²), never N²); for a `Coupled` one it is `(n,)` and `J` dense `(n, n)`."""

    f: Callable = eqx.field(static=True)
    x0: jax.Array
    jac: jax.Array
    unflatten: Callable = eqx.field(static=True)


def _linearise(model, t, y, inputs) -> _Linearised:
    if isinstance(model.structure, Elementwise):
        leaves, treedef = jtu.tree_flatten(y)
        shape = jnp.broadcast_shapes(*[jnp.shape(x) for x in leaves])
        x0 = jnp.stack([jnp.broadcast_to(x, shape) for x in leaves], axis=-1)

        def unflatten(x):
            return jtu.tree_unflatten(treedef, [x[..., i] for i in range(x.shape[-1])])

        def f(x):
            out = model.vector_field(t, unflatten(x), inputs)
            return jnp.stack([jnp.broadcast_to(o, shape) for o in jtu.tree_leaves(out)], -1)

        # k JVPs, each with a unit tangent on one leaf: column j of every block at once
        k = x0.shape[-1]
        basis = jnp.eye(k, dtype=x0.dtype)
        cols = [jax.jvp(f, (x0,), (jnp.broadcast_to(basis[j], x0.shape),))[1] for j in range(k)]
        return _Linearised(f, x0, jnp.stack(cols, axis=-1), unflatten)
    x0, unflatten = ravel_pytree(y)

    def f(x):
        return ravel_pytree(model.vector_field(t, unflatten(x), inputs))[0]

    return _Linearised(f, x0, jax.jacfwd(f)(x0), unflatten)


class AbstractImplicitSolver(AbstractSolver):
    """Linearly implicit one-step methods: each step solves linear systems with
    `I − γ·dt·J`, `J = ∂f/∂y` at the start of the step (exact, by autodiff) — no Newton
    iterations, one factorisation per step.

    - `Elementwise` models: `J` is a `k×k` block per element (k state leaves), built from k
      JVPs and solved per element — O(N) for a population.
    - `Coupled` models: the state is flattened and `J` is dense (`jax.jacfwd`): for small
      coupled models (a few compartments, rate networks up to ~10³ units).
    - `Tree` models (cable cells): the model's own `implicit_step(solver, t, y, inputs,
      dt)` (a tree solve for the voltages in O(N)), for the θ-methods.

    `linear_solver`: the `AbstractLinearSolver` for the dense / block systems (default
    `DenseSolve()`); a `Tree` model chooses its own when it is `None`.
    """

    linear_solver: AbstractLinearSolver | None = None

    def _solver(self) -> AbstractLinearSolver:
        return DenseSolve() if self.linear_solver is None else self.linear_solver


class AbstractThetaSolver(AbstractImplicitSolver):
    r"""The θ-family: $(I - \theta\,dt\,J)\,\delta = dt\,f(t, y_0)$, $y_1 = y_0 + \delta$.

    For a linear model this *is* the θ-method (backward Euler θ = 1, Crank–Nicolson
    θ = ½); for a nonlinear one it is the Rosenbrock–Euler method (θ = 1, first order) or
    the linearly implicit trapezoidal rule (θ = ½, second order)."""

    theta: ClassVar[float]
    structures = (Elementwise, Coupled, Tree)

    def step(self, model, t, y, inputs, dt):
        if isinstance(model.structure, Tree):
            return model.implicit_step(self, t, y, inputs, dt)
        lin = _linearise(model, t, y, inputs)
        eye = jnp.eye(lin.jac.shape[-1], dtype=lin.jac.dtype)
        delta = self._solver().solve(eye - self.theta * dt * lin.jac, dt * lin.f(lin.x0))
        return lin.unflatten(lin.x0 + delta)


class BackwardEuler(AbstractThetaSolver):
    """Linearly implicit backward Euler (θ = 1): first order, L-stable — stiff modes are
    damped at any `dt`. Exactly backward Euler for linear models; NEURON's default scheme
    for cables."""

    theta = 1.0


class CrankNicolson(AbstractThetaSolver):
    """Linearly implicit Crank–Nicolson / trapezoidal rule (θ = ½): second order and
    A-stable, but not L-stable: a very stiff mode (|λ|·dt ≫ 2) is not damped, it flips sign
    every step with an amplification factor near −1 (NEURON's `secondorder` schemes share
    this). Use it where the stiff modes start near equilibrium (a cable at rest, smooth
    inputs); otherwise `Rosenbrock2` (second order, L-stable) or `BackwardEuler`."""

    theta = 0.5


# Verwer, Spee, Blom & Hundsdorfer (1999): γ = 1 + 1/√2 makes ROS2 L-stable
_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


class Rosenbrock2(AbstractImplicitSolver):
    r"""The two-stage Rosenbrock method ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999, SIAM
    J Sci Comput 20:1456), γ = 1 + 1/√2:

    $$(I - \gamma\,dt\,J)\,k_1 = f(y_0),\quad
      (I - \gamma\,dt\,J)\,k_2 = f(y_0 + dt\,k_1) - 2k_1,\quad
      y_1 = y_0 + \tfrac{3}{2}dt\,k_1 + \tfrac{1}{2}dt\,k_2$$

    Second order for any `J` (a W-method: an approximate Jacobian keeps the order) and
    L-stable: stiff modes are damped at any `dt` (unlike `CrankNicolson`), so a stiff
    coupled model started far from equilibrium is accurate at large steps. Two
    vector-field evaluations and two solves with one matrix per step. For `Elementwise`
    and `Coupled` models.
    """

    structures = (Elementwise, Coupled)

    def step(self, model, t, y, inputs, dt):
        lin = _linearise(model, t, y, inputs)
        eye = jnp.eye(lin.jac.shape[-1], dtype=lin.jac.dtype)
        a = eye - _GAMMA * dt * lin.jac
        solver = self._solver()
        k1 = solver.solve(a, lin.f(lin.x0))
        k2 = solver.solve(a, lin.f(lin.x0 + dt * k1) - 2.0 * k1)
        return lin.unflatten(lin.x0 + dt * (1.5 * k1 + 0.5 * k2))
