"""Newton's method for the analysis.

Every Newton iteration of the analysis goes through `neurojax._newton.root`, the
package's one root finder: equilibria (`newton`), the
steady state of some variables given the others (`slaved`: the steady-state curve that
seeds the equilibrium search, and the slaved variables of a phase plane in two variables
of a larger model), the steady-state current `I∞(V)` and the arclength corrector of
`continuation`. The batched entry points compile once per model class (the model's
parameters are traced) and per chunk of `CHUNK` rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._newton import root as root
from ._system import System

NEWTON_STEPS = 40
"""Most Newton steps for an equilibrium from a seed."""

SLAVED_STEPS = 30
"""Most Newton steps for the slaved variables: at fixed V the gates of HH-type models are
linear in themselves, so it takes one step (and one more to see the step is small)."""

CHUNK = 16
"""Rows per compiled batch: each batched function compiles once whatever the row count."""


def newton(system: System, x0: Array, p, rtol: float = 1e-9):
    """An equilibrium `f(x, p) = 0` from `x0`: `(x, converged)`."""
    x, ok, _ = root(lambda x: system.f(x, p), x0, rtol=rtol, max_steps=NEWTON_STEPS)
    return x, ok


def slaved(system: System, x: Array, p, fixed: Sequence[int], rtol: float = 1e-12):
    """`x` with the dynamical variables at the indices `fixed` kept, and every other one at
    its steady state given them (Newton on their own equations, from their values in `x`):
    the steady-state curve at a voltage, or the slaved gates of a phase plane. Returns
    `(x, converged)`."""
    others = tuple(i for i in range(system.n) if i not in tuple(fixed))
    if not others:
        return x, jnp.all(jnp.isfinite(x))
    o = jnp.asarray(others)

    def fun(y):
        return system.f(x.at[o].set(y), p)[o]

    y, ok, _ = root(fun, x[o], rtol=rtol, max_steps=SLAVED_STEPS)
    return x.at[o].set(y), ok & jnp.all(jnp.isfinite(x))


def f64(x) -> Array:
    """A float64 (not weakly typed) array: one jit cache entry per shape."""
    return jnp.asarray(np.asarray(x, dtype=np.float64))


def chunked(fn, system: System, xs, *args) -> list[np.ndarray]:
    """`fn(system, rows, *args)` over the rows of `xs` in chunks of `CHUNK` (the last one
    padded by repeating a row), so each function compiles once whatever the row count."""
    xs = np.asarray(xs, dtype=np.float64)
    n = len(xs)
    outs = []
    for i in range(0, n, CHUNK):
        rows = xs[i : i + CHUNK]
        rows = np.concatenate([rows, np.repeat(rows[:1], CHUNK - len(rows), axis=0)])
        outs.append([np.asarray(o) for o in fn(system, f64(rows), *args)])
    return [np.concatenate(o)[:n] for o in zip(*outs, strict=True)]


@eqx.filter_jit
def _newton_chunk(system: System, x0, p):
    def one(x):
        x, ok = newton(system, x, p)
        return x, ok, system.post_step_changes(x, p)

    return jax.vmap(one)(x0)


def newton_batch(system: System, x0, p) -> list[np.ndarray]:
    """Newton from each row of `x0` at parameter `p`: `(x, converged, reset)`, `reset`
    telling whether the model's `event_step` would move the result (an integrate-and-fire
    equilibrium beyond threshold, which is no equilibrium of the model)."""
    return chunked(_newton_chunk, system, x0, f64(p))


@eqx.filter_jit
def slaved_batch(system: System, vs, p):
    """The steady-state curve over the voltages `vs`: states, `dv/dt` along it, and
    whether the slaved Newton converged."""
    k = system.v_index

    def one(v):
        x, ok = slaved(system, system.initial().at[k].set(v), p, (k,), rtol=1e-9)
        return x, system.f(x, p)[k], ok

    return jax.vmap(one)(vs)


@eqx.filter_jit
def _jacobian_chunk(system: System, zs):
    return (jax.vmap(lambda z: system.jac(z[:-1], z[-1]))(zs),)


def jacobian_batch(system: System, xs, ps) -> np.ndarray:
    """Jacobians `∂f/∂x` at the rows of `xs`, parameters `ps`."""
    xs = np.asarray(xs, np.float64)
    zs = np.concatenate([xs, np.asarray(ps, np.float64).reshape(-1, 1)], axis=1)
    return chunked(_jacobian_chunk, system, zs)[0]
