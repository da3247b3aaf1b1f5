from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from .._model import Elementwise
from ._base import AbstractSolver

# Below this |z| the φ functions are evaluated by their Taylor series, above by closed
# forms with `exp` (not `expm1`, which XLA's CPU backend evaluates several times more
# slowly: exponential Euler for HH ran 25 % faster). The closed forms lose at most
# ~2·eps/|z|^k (φ₁: k = 1, φ₂: k = 2) to cancellation there: ≤ 4 and 8 eps.
PHI_SERIES = 0.5


def taylor(z, coeffs):
    """`Σₖ coeffs[k]·zᵏ` by Horner's rule."""
    out = 0.0
    for c in reversed(coeffs):
        out = out * z + c
    return out


# φ₁(z) = Σ zᵏ/(k+1)!, cut after z¹³: the next term at |z| = 0.5 is 0.5¹⁴/15! ≈ 5e-17
_PHI1_COEFFS = tuple(1 / math.factorial(k + 1) for k in range(14))


def _n_terms(dtype) -> int:
    """How many Taylor terms of φ₁ reach the precision of `dtype` at |z| = PHI_SERIES:
    14 in float64, 10 in float32 (the next term, 0.5¹⁰/11! ≈ 2e-11, is below eps/256)."""
    eps = float(jnp.finfo(dtype).eps)
    for k, c in enumerate(_PHI1_COEFFS):
        if c * PHI_SERIES**k < eps / 256:
            return k
    return len(_PHI1_COEFFS)


@jax.custom_jvp
def phi1(z):
    """`(eᶻ − 1)/z` (→ 1 at 0), with its removable singularity at 0 handled for values
    and gradients.

    Its derivative is given in closed form (`custom_jvp`): `φ₁′(z) = (eᶻ − φ₁(z))/z`,
    by its Taylor series below `PHI_SERIES` — the same accuracy as differentiating the
    two branches, without carrying the series and both branches of the `where` through
    every reverse-mode step (measured: a branch-free φ₁ in its place cut the gradient of
    10³ HH neurons with `ExponentialEuler` from 126 to 81 ms)."""
    return _phi1_and_exp(z)[0]


def _phi1_and_exp(z):
    z = jnp.asarray(z)
    small = jnp.abs(z) < PHI_SERIES
    z_safe = jnp.where(small, 1.0, z)
    e = jnp.exp(z_safe)
    n = _n_terms(z.dtype) if jnp.issubdtype(z.dtype, jnp.floating) else len(_PHI1_COEFFS)
    series = taylor(z, _PHI1_COEFFS[:n])
    # Divided last (by `z_safe` = 1 where the series is taken: exact, so the same values
    # bit for bit as `where(small, series, (e − 1)/z)`): XLA:CPU does not copy a division
    # (an "expensive" operation) into each consumer of φ₁, but it does copy the cheap
    # `where` and the series that a select at the end drags with it. In ExponentialRK2
    # the half step's φ₁ feeds the midpoint rates of every variable, and was recomputed
    # in each: this order took HH ExponentialRK2 (10⁴ neurons) from 309 to 266 ms CPU.
    return jnp.where(small, series, e - 1.0) / z_safe, small, z_safe, e, n


@phi1.defjvp
def _phi1_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    value, small, z_safe, e, n = _phi1_and_exp(z)
    # d/dz Σ zᵏ/(k+1)! = Σ (k+1)·zᵏ/(k+2)!; closed form (eᶻ − φ₁)/z, whose cancellation
    # (eᶻ − φ₁ ≈ z/2) costs ≤ 2·eps/|z| ≤ 4 eps above PHI_SERIES, as for the value
    d_coeffs = tuple((k + 1) * c for k, c in enumerate(_PHI1_COEFFS[1:n]))
    deriv = jnp.where(small, taylor(z, d_coeffs), e - value) / z_safe  # divided last, as above
    return value, deriv * dz


def stable_part(lam, dt, cap: float):
    """The linear rate the exponential solvers use: `min(λ, cap/dt)`.

    Decaying modes (λ < 0: gates, leak, total conductance) keep their exact exponential
    treatment. A positive λ is a genuinely growing mode — the exponential upswing of
    EIF/AdEx, the quadratic one of Izhikevich — and following it exponentially is what
    makes the integrate-and-fire spike times accurate: an EIF step adds
    `Δ_T·(e^{λ·dt} − 1)` to V, so capping growth at one e-fold per step would let V climb
    at most 3.4 mV per step and delay every spike by ~1.5 ms at dt = 0.1. How much growth
    each scheme may take:

    - `ExponentialEuler`: `cap = 30` (no overflow of `eᶻ` in float32); an overshoot past
      the cut-off is caught by the model's reset (V is clamped at `v_th` there), and
      anything else non-finite is reported by `simulate`.
    - `ExponentialRK2`: `cap = 1` (φ₁ ≤ 1.72): its second stage combines the midpoint
      state with `λ·(x₀ − x_h)`, and with an unbounded λ an overshooting midpoint turned
      into −2.3e27 mV (AdEx before). The cap is inactive once `dt < 1/λ`, so the order
      is kept.

    Upstrokes driven by an *instantaneous* activation (reduced HH, Morris–Lecar), where
    `∂f/∂V > 0` is not a growing mode of the true dynamics, are handled by the model's
    `linear_part` (the total conductance, always < 0), not by this cap."""
    return jnp.minimum(lam, cap / dt)


def linear_rates(model, t, y, inputs):
    """`(f(y), λ)`: the vector field and the linear rate of each variable — the model's
    own `linear_part` when it has one, else the autodiff diagonal."""
    lam = model.linear_part(t, y, inputs)
    if lam is None:
        return diagonal_jacobian(model, t, y, inputs)
    return model.vector_field(t, y, inputs), lam


def diagonal_jacobian(model, t, state, current):
    """`(f(x), ∂fᵢ/∂xᵢ)` leafwise: the vector field and the derivative of each state
    variable's rate with respect to that variable itself.

    One forward-mode JVP per state leaf, with a unit tangent on that leaf only; only the
    same leaf's output is kept, so XLA drops the other tangent outputs. This is the true
    diagonal only when elements of one leaf do not couple (an `Elementwise` model): for a
    coupled leaf it would be a row sum of the Jacobian, so the exponential solvers refuse
    `Coupled` models (`simulate` checks `structures`).
    """
    leaves, treedef = jtu.tree_flatten(state)

    def f_leaves(*xs):
        return jtu.tree_leaves(model.vector_field(t, jtu.tree_unflatten(treedef, xs), current))

    f0 = f_leaves(*leaves)
    lams = []
    for k, x in enumerate(leaves):
        if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
            lams.append(jnp.zeros_like(f0[k]))
            continue

        def f_k(xk, k=k):
            xs = list(leaves)
            xs[k] = xk
            return f_leaves(*xs)[k]

        _, lam = jax.jvp(f_k, (x,), (jnp.ones_like(x),))
        lams.append(lam)
    return jtu.tree_unflatten(treedef, f0), jtu.tree_unflatten(treedef, lams)


class ExponentialEuler(AbstractSolver):
    r"""Exponential Euler: each variable is advanced exactly under its own linearisation,
    `x₁ = x₀ + dt·φ₁(λ·dt)·f(x₀)` with `λ = min(∂f/∂x, 30/dt)` (the diagonal of the Jacobian,
    by autodiff, or the model's `linear_part`; growth capped, see `stable_part`) and
    `φ₁(z) = (eᶻ − 1)/z`.

    Integrates `Elementwise` models only (point neurons and their populations).

    Exact for gates that are linear in themselves (`dm/dt = (m∞ − m)/τ_m` at fixed V: the
    `cnexp` scheme of NEURON) and for the subthreshold LIF; for the membrane potential of a
    conductance-based model it is the exponential integrator with the total conductance as
    rate. Unconditionally stable for decaying modes, first order overall.

    The gating variables a model declares (`gate_fields`, HH's m, h, n) take the same
    step written as `x∞ + (x − x∞)·e^{λ·dt}` (`gate_step`), which needs no series for
    small λ·dt: HH 10⁴ neurons ~25 % less CPU time.
    """

    structures = (Elementwise,)

    def step(self, model, t, y, inputs, dt):
        f0, lam = linear_rates(model, t, y, inputs)
        gates = declared_gates(model, y)
        if not gates:
            return exponential_step(y, f0, lam, dt)
        # the model's declared gates by `gate_step` (the same step without φ₁'s series)
        return y._replace(
            **{
                k: (gate_step if k in gates else _leaf_step)(
                    getattr(y, k), getattr(f0, k), getattr(lam, k), dt
                )
                for k in y._fields
            }
        )


def declared_gates(model, y) -> tuple[str, ...]:
    """The state fields `model` declares as gates (`gate_fields`, e.g. HH's m, h, n) that
    are fields of the NamedTuple state `y`; `()` when it declares none."""
    gates = getattr(model, "gate_fields", None) or ()
    fields = getattr(y, "_fields", None)
    if fields is None:
        return ()
    return tuple(g for g in gates if g in fields)


def _leaf_step(x, f, lam, dt):
    return x + dt * phi1(stable_part(lam, dt, GROWTH_CAP) * dt) * f


GROWTH_CAP = 30.0
"""Growth allowed per step by the exponential solvers (`stable_part`'s cap): decaying
rates (the gates, a conductance model's V) are never capped."""


def exponential_step(x, f, lam, dt):
    """`x + dt·φ₁(λ·dt)·f` leafwise: the exact solution after `dt` of the linear ODE
    `dx/dt = f + λ·(x − x₀)` from `x₀ = x` (λ and f held), growth capped at
    `GROWTH_CAP`. One exponential-Euler step; `Staggered` applies it per variable."""
    return jtu.tree_map(lambda x, f, l: _leaf_step(x, f, l, dt), x, f, lam)


GATE_SERIES = 1e-3
"""Below this |λ·dt| a gate step is `gate_step`'s Taylor polynomial (no division by λ)."""


def gate_step(x, f, lam, dt):
    """One exact step of a gate, `dx/dt = f + λ·(x − x₀)` (f, λ held; λ = −(α + β) for
    `α(1 − x) − βx`): `x∞ + (x − x∞)·e^{λ·dt}` with `x∞ = x − f/λ`, the same step as
    `exponential_step` (growth capped alike), written without φ₁.

    Why: φ₁'s series-and-`where` form, needed for a variable whose λ·dt can be anywhere,
    was a quarter of HH's step (10⁴ neurons, 1000 steps, CPU time, one process,
    alternating: 126 → 96 ms). For a gate it is not needed: `x − x∞ = f/λ` is bounded by
    the gate's range, so the closed form has no cancellation — its rounding error is
    ~eps·(|x∞| + |x − x∞|) whatever λ·dt (float32 HH, 2000 neurons × 4000 steps against
    float64: V RMS error 0.0048 mV, 0.0032 with φ₁; float64 runs of the two forms agree to
    5e-9 mV; the scheme's own error is 0.62 mV RMS at dt = 0.025). Only where `|λ·dt|`
    is below `GATE_SERIES` (λ → 0) is the step its Taylor polynomial
    `x + dt·f·(1 + z/2 + z²/6 + z³/24)`, z = λ·dt (next term ≤ 1e-15 relative there), so
    that nothing divides by a vanishing λ (values and gradients finite).

    Differentiated (JVP, and so reverse mode), the step is evaluated in its φ₁ form with
    φ₁'s derivative: the closed form's own derivative made the HH 10⁴ gradient 1.7× slower
    (791 → 1313 ms CPU), the φ₁ form's is as before (669 vs 675 ms). A differentiated run's
    values therefore differ from a plain run's by float rounding (float64: 5e-9 mV)."""
    return _gate_update(x, f, stable_part(lam, dt, GROWTH_CAP), dt)


@jax.custom_jvp
def _gate_update(x, f, lam, dt):
    z = lam * dt
    small = jnp.abs(z) < GATE_SERIES
    lam_safe = jnp.where(small, -1.0, lam)  # no division by a vanishing λ
    distance = f / lam_safe  # x − x∞
    closed = (x - distance) + distance * jnp.exp(z)
    series = x + dt * f * (1.0 + z * (0.5 + z * (1.0 / 6.0 + z / 24.0)))
    return jnp.where(small, series, closed)


@_gate_update.defjvp
def _gate_update_jvp(primals, tangents):
    """The derivative of the same step in its φ₁ form, `x + dt·φ₁(λ·dt)·f` (φ₁'s own
    closed-form derivative): differentiated directly, the closed form's division and
    `where` made the reverse pass of 10⁴ HH neurons 1.7× slower (791 → 1313 ms CPU)."""
    x, f, lam, dt = primals
    dx, df, dlam, ddt = tangents
    z = lam * dt
    p, dp = jax.jvp(phi1, (z,), (dlam * dt + lam * ddt,))
    # the value in the same φ₁ form: one exponential per gate, shared with the derivative
    return x + dt * p * f, dx + (ddt * p + dt * dp) * f + dt * p * df
