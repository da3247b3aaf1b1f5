from __future__ import annotations

from ._base import AbstractSolver, axpy


class Euler(AbstractSolver):
    """Forward (explicit) Euler: `x₁ = x₀ + dt·f(t, x₀)`. First order; cheapest per step,
    but needs `dt` well below the fastest time constant (HH: dt ≲ 0.01 ms). Integrates
    any model structure; past its stability limit the run ends in inf/NaN, which
    `simulate` reports."""

    def step(self, model, t, y, inputs, dt):
        return axpy(dt, model.vector_field(t, y, inputs), y)
