from __future__ import annotations

from ._base import AbstractSolver, axpy


class Euler(AbstractSolver):
    """Forward (explicit) Euler: `x₁ = x₀ + dt·f(t, x₀)`. First order; cheapest per step,
    but needs `dt` well below the fastest time constant (HH: dt ≲ 0.01 ms)."""

    def step(self, model, t, state, current, dt):
        return axpy(dt, model.vector_field(t, state, current), state)
