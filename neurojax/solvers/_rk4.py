from __future__ import annotations

import jax.tree_util as jtu

from ._base import AbstractSolver, axpy


class RK4(AbstractSolver):
    """Classic fourth-order Runge–Kutta with the current held over the step. Four vector
    field evaluations per step; the reference integrator for convergence tests."""

    def step(self, model, t, state, current, dt):
        f = model.vector_field
        k1 = f(t, state, current)
        k2 = f(t + dt / 2, axpy(dt / 2, k1, state), current)
        k3 = f(t + dt / 2, axpy(dt / 2, k2, state), current)
        k4 = f(t + dt, axpy(dt, k3, state), current)
        incr = jtu.tree_map(lambda a, b, c, d: a + 2 * b + 2 * c + d, k1, k2, k3, k4)
        return axpy(dt / 6, incr, state)
