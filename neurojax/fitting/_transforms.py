"""Parameter constraints by reparametrisation: the optimiser moves an unconstrained `u ∈ ℝ`,
the model sees `p = forward(u)`, which lies in the allowed set for *every* finite `u`.

Each constraint is normalised at the initial value `p₀`: a unit change of `u` is a change
of `p` of order `p₀` (or of the bound range), so one learning rate fits parameters of
very different sizes (`g_na = 120` and `g_l = 0.3` mS/cm²). With Adam, `lr` is roughly
the relative change of a parameter per step.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from ._checks import check_finite


def _softplus_inverse(y: Array) -> Array:
    """`log(eʸ − 1)`, stable for large `y` (→ y) and small `y` (→ log y)."""
    return y + jnp.log(-jnp.expm1(-y))


def _scale_of(p0: Array) -> Array:
    """|p₀| where it is non-zero, 1 elsewhere: the unit of the unconstrained coordinate."""
    a = jnp.abs(p0)
    return jnp.where(a > 0, a, 1.0)


class AbstractConstraint(eqx.Module):
    """A set a parameter must stay in, and a smooth bijection `ℝ → set` onto it.

    `bind(p0)` returns a transform anchored at the initial value `p0` (it fixes the scale);
    `forward(u)` maps the unconstrained coordinate to the parameter, `inverse(p)` back.
    `sample(key, p0, spread, shape)` draws initial values for multi-start fits.
    """

    @abc.abstractmethod
    def bind(self, p0: Array) -> AbstractConstraint:
        """A copy of this constraint anchored (scaled) at `p0`; checks `p0` is allowed."""

    @abc.abstractmethod
    def forward(self, u: Array) -> Array: ...

    @abc.abstractmethod
    def inverse(self, p: Array) -> Array: ...

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, p0: Array, spread: float, shape: tuple) -> Array:
        """Initial values around `p0` (shape `shape + p0.shape`), inside the set."""


class Unconstrained(AbstractConstraint):
    """No constraint: `p = scale·u` with `scale = |p₀|` (1 if `p₀ = 0`), so `lr` is still a
    relative step. Multi-start samples uniformly in `p₀ ± (spread − 1)·scale`."""

    scale: Array | None = None

    def bind(self, p0):
        return Unconstrained(scale=_scale_of(p0) if self.scale is None else self.scale)

    def forward(self, u):
        return self.scale * u

    def inverse(self, p):
        return p / self.scale

    def sample(self, key, p0, spread, shape):
        width = (spread - 1.0) * _scale_of(p0)
        return p0 + width * jax.random.uniform(
            key, shape + jnp.shape(p0), minval=-1.0, maxval=1.0, dtype=jnp.result_type(p0)
        )


class Positive(AbstractConstraint):
    """`p > lower` (default 0): `p = lower + scale·softplus(u)` with `scale = p₀ − lower`.

    Softplus rather than `exp`: near `p₀` it moves `p` relatively (like a log-parameter),
    far above it grows only linearly, so a huge step cannot overflow; far below, `p`
    approaches `lower` but never reaches it (softplus is floored at the float's machine
    epsilon, so `p − lower >= scale·eps` holds even where it would underflow: a floor at
    the smallest normal float, ~1e-38, times a small scale such as Izhikevich's `a = 0.02`
    is a subnormal that the CPU flushes to 0, and a CMA-ES point there stopped a
    held-out fit with "Izhikevich.a must be > 0"). For conductances, time constants,
    capacitances.
    Multi-start samples log-uniformly in `[p₀/spread, p₀·spread]` (relative to `lower`).
    """

    lower: float = eqx.field(static=True, default=0.0)
    scale: Array | None = None

    def __check_init__(self):
        check_finite("Positive", "lower", self.lower)

    def bind(self, p0):
        p0 = np.asarray(p0) if not isinstance(p0, jax.core.Tracer) else p0
        if not isinstance(p0, jax.core.Tracer) and not np.all(p0 > self.lower):
            raise ValueError(
                f"Positive(lower={self.lower}) needs an initial value > {self.lower}, got "
                f"{p0}. Start from an allowed value or use another constraint "
                "(Unconstrained(), Bounded(lo, hi))."
            )
        return Positive(lower=self.lower, scale=jnp.asarray(p0) - self.lower)

    def forward(self, u):
        # softplus underflows to 0 for u below ~−100 (float32); the floor keeps p > lower
        # (eps, not tiny: tiny·scale is subnormal, flushed to 0, for scales below 1)
        s = jnp.maximum(jax.nn.softplus(u), jnp.finfo(jnp.result_type(u)).eps)
        return self.lower + self.scale * s

    def inverse(self, p):
        return _softplus_inverse((p - self.lower) / self.scale)

    def sample(self, key, p0, spread, shape):
        x = jnp.asarray(p0) - self.lower
        log_f = jnp.log(spread) * jax.random.uniform(
            key, shape + jnp.shape(x), minval=-1.0, maxval=1.0, dtype=jnp.result_type(x)
        )
        return self.lower + x * jnp.exp(log_f)


class Bounded(AbstractConstraint):
    """`lower < p < upper`: `p = lower + (upper − lower)·sigmoid(u)`. For fractions,
    probabilities, voltages known to lie in a range. Multi-start samples uniformly in the
    range (`spread` is ignored: the bounds are the prior)."""

    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)

    def __check_init__(self):
        check_finite("Bounded", "lower", self.lower)
        check_finite("Bounded", "upper", self.upper)
        if not self.lower < self.upper:
            raise ValueError(
                f"Bounded(lower, upper) needs finite lower < upper, got ({self.lower}, "
                f"{self.upper}); for a one-sided bound use Positive(lower=...)."
            )

    def bind(self, p0):
        if not isinstance(p0, jax.core.Tracer):
            p = np.asarray(p0)
            if not np.all((p > self.lower) & (p < self.upper)):
                raise ValueError(
                    f"Bounded({self.lower}, {self.upper}) needs an initial value strictly "
                    f"inside the bounds, got {p}."
                )
        return self

    def forward(self, u):
        p = self.lower + (self.upper - self.lower) * jax.nn.sigmoid(u)
        # sigmoid rounds to exactly 0 or 1 for |u| beyond ~17 (float32): keep p strictly inside
        lo, hi = (jnp.asarray(b, jnp.result_type(u)) for b in (self.lower, self.upper))
        return jnp.clip(p, jnp.nextafter(lo, hi), jnp.nextafter(hi, lo))

    def inverse(self, p):
        x = (p - self.lower) / (self.upper - self.lower)
        return jnp.log(x) - jnp.log1p(-x)

    def sample(self, key, p0, spread, shape):
        # stay off the bounds themselves, where the inverse is ±inf
        eps = 1e-3 * (self.upper - self.lower)
        return jax.random.uniform(
            key,
            shape + jnp.shape(p0),
            minval=self.lower + eps,
            maxval=self.upper - eps,
            dtype=jnp.result_type(p0),
        )


def default_constraint(p0: ArrayLike) -> AbstractConstraint:
    """The constraint used when none is given: `Positive()` for a parameter whose initial
    values are all > 0 (conductances, time constants, capacitances keep their sign), else
    `Unconstrained()` (reversal potentials, thresholds, …)."""
    if not isinstance(p0, jax.core.Tracer) and np.all(np.asarray(p0) > 0):
        return Positive()
    return Unconstrained()
