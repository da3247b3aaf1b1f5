from __future__ import annotations

import jax.tree_util as jtu

from .._model import Elementwise
from ._base import AbstractSolver
from ._exponential_euler import linear_rates, phi1, stable_part


class ExponentialRK2(AbstractSolver):
    r"""Second-order exponential Runge–Kutta: the exponential midpoint rule, i.e. the
    second-order Rush–Larsen scheme of Perego & Veneziani (2009).

    Each variable relaxes exponentially towards the target it has at the *midpoint* of the
    step. An exponential-Euler half step gives the midpoint state `x_h`; there the rate
    `λ_h` (the model's `linear_part` or the autodiff diagonal, growth capped at one e-fold
    per step as in `ExponentialEuler`) and the field `f_h` are evaluated, and

    $$x_1 = x_0 + dt\,\varphi_1(\lambda_h dt)\,\big(f_h + \lambda_h (x_0 - x_h)\big)
          = x_\infty + (x_0 - x_\infty)\,e^{\lambda_h dt},\qquad
      x_\infty = x_h - f_h/\lambda_h$$

    with `φ₁(z) = (eᶻ − 1)/z`. Second order (halving `dt` divides the error by 4), exact
    for the gates at fixed V as exponential Euler is, and — with a conductance model's
    `linear_part` (`λ = −g_total/c_m`) — the new V is a convex combination of the old V and
    the midpoint's `V∞ = (Σ g·E + I)/g_total`, so it cannot leave the range of the
    reversal potentials at any `dt`. (ETD2RK, used before, corrected with `φ₂·ΔN` and
    overshot to 85 mV on the reduced HH at dt = 0.1 ms; this scheme peaks at 47.8 mV,
    true 47.6.) Cost: two vector-field and two linear-rate evaluations per step, i.e.
    twice the exponentials and divisions of `ExponentialEuler` (HH: 14 and 18 per
    neuron-step against 7 and 9), so less than half its throughput (HH, 10⁴ neurons,
    float32: 0.42×, 0.45× at XLA:CPU's 512-bit vectors; `benchmarks/exp_pop_hh.py`,
    `benchmarks/README.md`). Every rate is already evaluated once per stage, at V₀ and at
    V_h, and nothing is shared between the stages or with the next step; what could still
    be saved is not worth it: an L-stable rational half step in place of the exponential
    one saved the 4 exponentials of the half step (0.68×, spike times 0.10 ms instead of
    0.072 at dt = 0.025: another scheme), and HH's gates stepped in closed form in both
    stages 1–4 % (the same scheme; `exp_pop_hh.py`).

    For Hodgkin–Huxley at dt = 0.025 ms its spike times are 0.072 ms from a converged
    solution (exponential Euler: 1.2 ms; NEURON's default: 0.42 ms;
    `tests/test_hh_neuron.py`). For conductance-based models that declare their gates
    (`gate_fields`) `Staggered` is second order at one rate evaluation per step and more
    accurate (0.029 ms): HH's default. This scheme remains the second-order choice for
    the other point neurons (it needs no split of the state), and it keeps every variable
    at whole steps.

    References: Perego & Veneziani (2009) Electron Trans Numer Anal 35:234–256;
    Hochbruck & Ostermann (2010) Acta Numerica 19:209–286 (exponential midpoint rule).
    """

    structures = (Elementwise,)

    def step(self, model, t, y, inputs, dt):
        f0, lam0 = linear_rates(model, t, y, inputs)
        half = jtu.tree_map(
            lambda x, f, l: x + 0.5 * dt * phi1(stable_part(l, dt, 1.0) * 0.5 * dt) * f, y, f0, lam0
        )
        fh, lamh = linear_rates(model, t + 0.5 * dt, half, inputs)

        def full(x, xh, f, l):
            l = stable_part(l, dt, 1.0)
            return x + dt * phi1(l * dt) * (f + l * (x - xh))

        return jtu.tree_map(full, y, half, fh, lamh)
