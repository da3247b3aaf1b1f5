"""Newton's method for the analysis.

Every Newton iteration of the analysis goes through `neurojax._newton.root`, the
package's one root finder. All the equilibrium work — equilibria from seeds, the steady
state of the other variables at a voltage (the steady-state curve that seeds the
equilibrium search), Jacobians, the arclength corrector and tangent of `continuation`, the
reset test, the steady-state current `I∞(V)` — is one compiled program, `solve_rows`,
compiled once per model class (the model's parameters, the tolerance and the step cap are
traced) for chunks of `CHUNK` rows. `slaved` (the slaved variables of a phase plane in two
variables of a larger model) runs inside the phase plane's own programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

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
    """A float64 (not weakly typed) array on the default device: one jit cache entry per
    shape. `jax.device_put` of a numpy array, not `jnp.asarray` (which compiles a small
    conversion program per new shape and costs ~0.2 ms per call)."""
    return jax.device_put(np.asarray(x, dtype=np.float64))


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


# ---------------------------------------------------------------------------------------
# the one compiled program for equilibria: z = (x, p) ∈ R^{n+1}


class Rows(NamedTuple):
    """What `solve_rows` returns, one row per start: `z` the solution `(x, p)`, `ok`
    whether Newton converged, `steps` its iterations, `tangent` the unit tangent of the
    branch at `z` oriented along the given `t_prev` (NaN for `t_prev = 0`), `jac` `[f_x |
    f_p]` at `z` `(n, n+1)`, `f` the vector field at `z`, `reset` whether the model's
    `event_step` would move the equilibrium `z` (an integrate-and-fire state above
    threshold)."""

    z: np.ndarray
    ok: np.ndarray
    steps: np.ndarray
    tangent: np.ndarray
    jac: np.ndarray
    f: np.ndarray
    reset: np.ndarray


@eqx.filter_jit
def _rows_chunk(system: System, z0, free, d, c, t_prev, rtol, max_steps):
    """Newton from each row of `z0` on `[f(x, p) where free, else x − x0; d·z − c] = 0`,
    then the branch's tangent, `[f_x | f_p]`, `f` and the reset test at the solution."""
    n = system.n
    e = jnp.zeros(n + 1, z0.dtype).at[-1].set(1.0)

    def field(z):
        return system.f(z[:n], z[n])

    def one(z0, free, d, c, t_prev):
        def fun(z):
            rows = jnp.where(free, field(z), z[:n] - z0[:n])
            return jnp.concatenate([rows, (d @ z - c)[None]])

        z, ok, k = root(fun, z0, rtol=rtol, max_steps=max_steps)
        jac, f = jax.jacfwd(lambda w: (field(w), field(w)), has_aux=True)(z)
        t = jnp.linalg.solve(jnp.concatenate([jac, t_prev[None]]), e)
        return z, ok, k, t / jnp.linalg.norm(t), jac, f, system.post_step_changes(z[:n], z[n])

    return jax.vmap(one)(z0, free, d, c, t_prev)


def solve_rows(
    system: System,
    z0,
    *,
    d=None,
    c=None,
    free=None,
    t_prev=None,
    rtol: float = 1e-9,
    max_steps: int = NEWTON_STEPS,
) -> Rows:
    """Newton on `[f(x, p) = 0; d·(x, p) = c]` from each row of `z0` `(k, n+1)` (`d`
    default `e_p`, `c` default each row's `p`: an equilibrium at a fixed parameter; `d` the
    branch's tangent: the arclength corrector; `d = e_V`: the current at a fixed voltage).
    `free` `(k, n)` (default all True): where False, the equation `f_i = 0` is replaced by
    `x_i = x0_i` (the steady state of the other variables at a fixed voltage).
    `max_steps = 0` evaluates the tangent, Jacobian, field and reset test at `z0`.

    Every equilibrium computation of the analysis goes through this one compiled program
    (per model class and chunk of `CHUNK` rows): finding equilibria, the steady-state curve,
    Jacobians, the arclength corrector and tangent, the reset test, `I∞(V)`. It replaced six
    programs (measured: the equilibrium part of a bifurcation diagram compiled ~3× less)."""
    z0 = np.asarray(z0, dtype=np.float64).reshape(-1, system.n + 1)
    k = len(z0)
    n = system.n
    if d is None:
        d = np.zeros((k, n + 1))
        d[:, -1] = 1.0
    d = np.broadcast_to(np.asarray(d, dtype=np.float64), (k, n + 1))
    c = z0[:, -1] if c is None else np.broadcast_to(np.asarray(c, dtype=np.float64), (k,))
    free = np.ones((k, n)) if free is None else np.broadcast_to(np.asarray(free, float), (k, n))
    t_prev = np.zeros((k, n + 1)) if t_prev is None else t_prev
    t_prev = np.broadcast_to(np.asarray(t_prev, dtype=np.float64), (k, n + 1))
    rows = np.concatenate([z0, free, d, c[:, None], t_prev], axis=1)
    a, b = n + 1, 2 * n + 1

    def fn(system, r, rtol, max_steps):
        return _rows_chunk(
            system,
            r[:, :a],
            r[:, a:b] > 0.5,
            r[:, b : b + a],
            r[:, b + a],
            r[:, b + a + 1 :],
            rtol,
            max_steps,
        )

    out = chunked(fn, system, rows, f64(rtol), jnp.asarray(int(max_steps), dtype=jnp.int32))
    return Rows(*out)


def newton_batch(system: System, x0, p) -> list[np.ndarray]:
    """Newton from each row of `x0` at parameter `p`: `(x, converged, reset)`, `reset`
    telling whether the model's `event_step` would move the result (an integrate-and-fire
    equilibrium beyond threshold, which is no equilibrium of the model)."""
    x0 = np.asarray(x0, dtype=np.float64).reshape(-1, system.n)
    z0 = np.concatenate([x0, np.full((len(x0), 1), float(p))], axis=1)
    r = solve_rows(system, z0)
    return [r.z[:, :-1], r.ok, r.reset]


def slaved_batch(system: System, vs, p) -> list[np.ndarray]:
    """The steady-state curve over the voltages `vs`: states, `dv/dt` along it, and
    whether the slaved Newton converged."""
    k = system.v_index
    vs = np.asarray(vs, dtype=np.float64).ravel()
    z0 = np.tile(np.append(np.asarray(system.initial()), float(p)), (len(vs), 1))
    z0[:, k] = vs
    free = np.ones(system.n)
    free[k] = 0.0
    r = solve_rows(system, z0, free=free, max_steps=SLAVED_STEPS)
    x = r.z[:, :-1]
    return [x, r.f[:, k], r.ok & np.all(np.isfinite(x), axis=1)]


def jacobian_batch(system: System, xs, ps) -> np.ndarray:
    """Jacobians `∂f/∂x` at the rows of `xs`, parameters `ps`."""
    xs = np.asarray(xs, np.float64).reshape(-1, system.n)
    zs = np.concatenate([xs, np.asarray(ps, np.float64).reshape(-1, 1)], axis=1)
    return solve_rows(system, zs, max_steps=0).jac[:, :, :-1]
