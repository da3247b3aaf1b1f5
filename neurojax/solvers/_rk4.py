from __future__ import annotations

import jax.tree_util as jtu

from ._base import AbstractSolver, axpy


class RK4(AbstractSolver):
    """Classic fourth-order Runge–Kutta with the inputs held over the step. Four vector
    field evaluations per step; the reference integrator for convergence tests. Explicit:
    integrates any model structure within its stability limit."""

    def step(self, model, t, y, inputs, dt):
        f = model.vector_field
        k1 = f(t, y, inputs)
        k2 = f(t + dt / 2, axpy(dt / 2, k1, y), inputs)
        k3 = f(t + dt / 2, axpy(dt / 2, k2, y), inputs)
        k4 = f(t + dt, axpy(dt, k3, y), inputs)
        incr = jtu.tree_map(lambda a, b, c, d: a + 2 * b + 2 * c + d, k1, k2, k3, k4)
        return axpy(dt / 6, incr, y)
