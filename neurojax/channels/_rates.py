from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

# z/(eᶻ − 1) = Σ Bₙ zⁿ/n! (Bernoulli numbers): 1 − z/2 + z²/12 − z⁴/720 + … The even
# coefficients B₂ₖ/(2k)! up to z¹⁶; at |z| < _SERIES the next term is < 0.5¹⁸·8.5e-15 ≈ 3e-20.
_SERIES = 0.5
_EVEN_COEFFS = (
    1 / 12,
    -1 / 720,
    1 / 30240,
    -1 / 1209600,
    1 / 47900160,
    -691 / 1307674368000,
    1 / 74724249600,
    -3617 / 10670622842880000,
)


def _even_coeffs(dtype) -> tuple[float, ...]:
    """The series' even coefficients that reach the precision of `dtype` at |z| = _SERIES:
    all 8 in float64, 4 in float32 (the next term, 0.5¹⁰/47900160 ≈ 2e-11, is below
    eps/256). Fewer terms in float32: HH populations ~3–5 % less CPU time (10⁴ neurons)."""
    if not jnp.issubdtype(dtype, jnp.floating):
        return _EVEN_COEFFS
    eps = float(jnp.finfo(dtype).eps)
    for k, c in enumerate(_EVEN_COEFFS):
        if abs(c) * _SERIES ** (2 * k + 2) < eps / 256:
            return _EVEN_COEFFS[:k]
    return _EVEN_COEFFS


def vtrap(x: Array, y: float, exp_z: Array | None = None) -> Array:
    """`x / (exp(x/y) − 1)`, the HH-type rate form, with its removable singularity at
    `x = 0` (limit `y`) evaluated by a series so that values AND gradients are finite there.

    With `z = x/y`: the Bernoulli series for `|z| < 0.5`, the closed form `z/(eᶻ − 1)`
    beyond. The closed form uses `exp`, not `expm1` (which XLA's CPU backend evaluates
    several times more slowly): at `|z| ≥ 0.5` its rounding error is ≤ 2·eps/|z| = 4 eps,
    and its slope's (two terms of size 1/z cancelling to −1/2) ≤ ~2·eps/z² = 8 eps.
    The two-sided `where` keeps the unused branch's NaN out of the gradient.

    `exp_z`: `exp(x/y)` when the caller has it already (HH's rates share one `exp` between
    three rates, `channels.hh.rates`); otherwise it is computed here.
    """
    z = x / y
    small = jnp.abs(z) < _SERIES
    z_safe = jnp.where(small, 1.0, z)
    z2 = z * z
    even = 0.0
    for c in reversed(_even_coeffs(jnp.result_type(z))):  # Horner in z²
        even = even * z2 + c
    series = 1.0 - z / 2 + z2 * even
    # divided last (by 1 where the series is taken: exact, the same values bit for bit):
    # XLA:CPU then keeps the rate in one place instead of copying the series and the
    # `where` into every consumer (ExponentialRK2 for HH: 8 % faster)
    e = jnp.exp(z_safe) if exp_z is None else exp_z
    den = jnp.where(small, 1.0, e - 1.0)
    return y * (jnp.where(small, series, z_safe) / den)
