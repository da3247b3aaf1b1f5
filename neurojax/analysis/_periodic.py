"""Periodic orbits (limit cycles): shooting, Floquet multipliers, pseudo-arclength
continuation of cycles, their folds / period doublings / tori, and derivatives of the period
and of a fold of cycles by the implicit function theorem.

**Shooting.** A cycle of period `T` through `x0` solves `φ_T(x0; p) − x0 = 0`, where the
flow map `φ_T` is an RK4 integration of `model.vector_field` in float64 over `[0, T]` on a
fixed mesh of `N` steps given as fractions of the period (time rescaled to `[0, 1]`, so `T`
is an unknown like any other). The phase is fixed by `dV/dt(0) = 0`: the orbit's point `x0`
is the maximum of V. Newton solves it by multiple shooting: the mesh is cut into `SEGMENTS`
consecutive pieces integrated side by side, each piece's end matched to the next one's start
(`_correct`); the composed map is the same discrete `φ_T`, so the cycles are those of single
shooting, to Newton's tolerance. The monodromy matrix `∂φ_T/∂x0` is the product of the
pieces' Jacobians (forward-mode autodiff through each piece, `_info`); its eigenvalues are
the Floquet multipliers (one is 1: the direction along the orbit).

**Accuracy.** The mesh puts half its steps uniformly in time and half in proportion to the
speed of the fastest variable (spike upstrokes get small steps). RK4's endpoint error is
estimated by integrating on the mesh with every two steps merged (Richardson:
`|φ_N − φ_{N/2}|/15`; the difference of each multiple-shooting piece from its own start,
carried to the end by the later pieces' Jacobians: the same to first order), and `N`
(a power of two ≥ 256) is doubled until that estimate is below
`RK_TOL·(1 + max|x|)` (`RK_TOL = 1e-8`); measured: HH needs 2048 steps per period (8192
uniform ones), the reduced HH 4096 (its instantaneous `m∞(V)` makes the upstroke stiff).
Along an unstable cycle the endpoint's error is the local errors amplified by the unstable
multiplier, which says nothing of the cycle's own accuracy (a boundary-value problem): the
estimate is the smaller of the endpoint's and the sum over the `SEGMENTS` pieces of each
piece's Richardson estimate from its own start (for a stable cycle the endpoint's, as
before; measured on HH's unstable branch near its period doublings at I ≈ 7.8–7.9, the
endpoint estimate asked for 65536 steps per period).
Newton stops at steps below `1e-11` relative, so a cycle is exact to the integration error.

**Compilation.** The jitted shooting functions take the model (its parameters traced), the
parameter value and the mesh as arguments: a mesh travels as a zero-padded buffer of fixed
length with its step count traced (`_Padded`), so each function compiles once per model
class, whatever the parameter values and the number of steps (the test file's runtime fell
from ~120 s to ~60 s on the shared 2-core machine, the results bit-for-bit unchanged).

**Limits.** A cycle whose unstable multiplier exceeds ~1e12 (the unstable side of a canard
explosion, near a homoclinic orbit) could not be computed by single shooting; the
continuation then ends and says why (`CycleContinuation.end`), as it still does for the
reduced HH's canard-like folds with multiple shooting. HH's unstable branch from its Hopf
point, which single shooting could not follow past its twist (folds and period doublings at
I ≈ 7.816–7.892, Guckenheimer & Labouriau 1993: 300 cycles without leaving it), is now
followed to its fold at 6.234 and back up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._model import AbstractModel
from .._simulate import check_time
from ._continuation import BifurcationPoint, check_max_points
from ._cycles import detect_cycle
from ._fixed_points import as_flat
from ._newton import f64, jacobian_batch, root
from ._system import (
    System,
    check_finite,
    check_point_model,
    check_real,
    float64,
    flow_step,
    make_system,
    parameter_name,
    state_to_numpy,
    to_float64,
    trajectory,
)
from ._units import unit_of

_trajectory = eqx.filter_jit(trajectory)

RK_TOL = 1e-8
"""Target for the estimated RK4 error of `φ_T(x0)`, relative to `1 + max|x|`."""

MIN_STEPS = 256
MAX_STEPS = 2**16
_CORRECTOR_STEPS = 30
"""Most corrector iterations (chord steps and Newton steps together)."""
_NEWTON_RTOL = 1e-11


class NoCycleError(ValueError):
    """No limit cycle where one was looked for."""


# ---------------------------------------------------------------------------------------
# the shooting map; u = (x0, T, p) ∈ R^{n+2}


class _Padded(NamedTuple):
    """A mesh of `count` steps stored at the start of a zero-padded buffer of a fixed
    length (`_CAPACITY`, or the next power of two above it): the jitted shooting functions
    loop over the first `count` entries (a `fori_loop` of traced length, differentiable in
    forward mode), so one compilation serves every mesh size and every parameter value,
    instead of one per power of two (measured: the test file's XLA compilation of the
    shooting functions fell from ~5 per function to 1 per function and model).

    `seg`, `seg_count`: the same mesh cut into `SEGMENTS` consecutive pieces of
    `seg_count` steps, row `k` holding piece `k` (zero-padded), for the multiple-shooting
    corrector (`_correct`, `_info`)."""

    buf: Any
    count: Any
    seg: Any = None
    seg_count: Any = None


_CAPACITY = MAX_STEPS  # 512 KiB per call: one compilation per function and model class


def _pad(mesh) -> _Padded:
    mesh = np.asarray(mesh, dtype=np.float64)
    count = len(mesh)
    cap = max(_CAPACITY, 1 << max(count - 1, 1).bit_length())
    buf = np.zeros(cap)
    buf[:count] = mesh
    seg = np.zeros((SEGMENTS, cap // SEGMENTS))
    per = count // SEGMENTS if count % SEGMENTS == 0 else 0  # every shooting mesh divides
    seg[:, :per] = mesh.reshape(SEGMENTS, per) if per else 0.0
    return _Padded(
        f64(buf),
        jnp.asarray(count, dtype=jnp.int32),
        f64(seg),
        jnp.asarray(per, dtype=jnp.int32),
    )


def _flow(system: System, x0, period, p, mesh):
    """`φ_T(x0)` by RK4 steps of `T·mesh[i]` ms (`mesh`: the steps as fractions of the
    period, summing to 1), and the min and max of each variable along the way. A `_Padded`
    mesh runs as a loop of traced length (forward-mode differentiable only); a plain array
    as a `scan` (differentiable in both modes)."""

    def advance(carry, frac):
        x, lo, hi = carry
        y = flow_step(system, x, period * frac, p)
        return y, jnp.minimum(lo, y), jnp.maximum(hi, y)

    if isinstance(mesh, _Padded):
        return jax.lax.fori_loop(0, mesh.count, lambda i, c: advance(c, mesh.buf[i]), (x0, x0, x0))
    return jax.lax.scan(lambda c, frac: (advance(c, frac), None), (x0, x0, x0), mesh)[0]


def _coarse(mesh):
    """The mesh with every two consecutive steps merged (for the error estimate)."""
    if isinstance(mesh, _Padded):
        return mesh._replace(buf=mesh.buf.reshape(-1, 2).sum(axis=1), count=mesh.count // 2)
    return mesh.reshape(-1, 2).sum(axis=1)


def _refine(mesh: np.ndarray) -> np.ndarray:
    """Every step split in two."""
    return np.repeat(np.asarray(mesh) / 2.0, 2)


def uniform_mesh(steps: int) -> np.ndarray:
    return np.full(steps, 1.0 / steps)


@eqx.filter_jit
def _nodes_padded(system: System, x0, period, p, mesh: _Padded):
    buf = mesh.buf
    xs0 = jnp.zeros((buf.shape[0] + 1, x0.shape[0]), x0.dtype).at[0].set(x0)

    def body(i, carry):
        x, xs = carry
        y = flow_step(system, x, period * buf[i], p)
        return y, xs.at[i + 1].set(y)

    xs = jax.lax.fori_loop(0, mesh.count, body, (x0, xs0))[1]
    return xs, jax.vmap(lambda x: system.f(x, p))(xs)


def _nodes(system: System, x0, period, p, mesh):
    """States at the mesh nodes (with `x0`) and the vector field there (numpy arrays)."""
    mesh = np.asarray(mesh)
    xs, fs = _nodes_padded(system, f64(x0), f64(period), f64(p), _pad(mesh))
    k = len(mesh) + 1
    return np.asarray(xs)[:k], np.asarray(fs)[:k]


def _adapted(system: System, x0, period, p, mesh) -> np.ndarray:
    """A mesh with as many steps as `mesh`, half of them spread uniformly in time and half
    in proportion to the speed of the fastest variable (relative to its range over the
    orbit): RK4's local error grows like (h·rate)^5, so steps shrink where the orbit is fast
    (a spike's upstroke) and grow where it is slow (the interspike interval)."""
    xs, fs = _nodes(system, x0, period, p, mesh)
    scale = np.ptp(xs, axis=0) + 1e-12
    speed = np.max(np.abs(fs) / scale, axis=1)  # 1/ms
    t = period * np.concatenate([[0.0], np.cumsum(mesh)])
    dt = np.diff(t)
    total = np.sum(0.5 * (speed[1:] + speed[:-1]) * dt)
    rho = 1.0 / period + speed / max(total, 1e-300)  # ∫ρ dt = 2
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * dt)])
    targets = np.linspace(0.0, cum[-1], len(mesh) + 1)
    new_t = np.interp(targets, cum, t)
    new = np.diff(new_t) / period
    if not np.all(new > 0) or not np.all(np.isfinite(new)):
        return np.asarray(mesh)
    return new / new.sum()


def _residual(system: System, u, steps):
    """`[φ_T(x0) − x0; dV/dt(x0)]` (n + 1 equations) at `u = (x0, T, p)`."""
    n = system.n
    x0, period, p = u[:n], u[n], u[n + 1]
    x_end, _, _ = _flow(system, x0, period, p, steps)
    return jnp.concatenate([x_end - x0, system.f(x0, p)[system.v_index][None]])


SEGMENTS = 64
"""Pieces of the period in the multiple-shooting corrector (`_correct`, `_info`): the
mesh's `N` RK4 steps are cut into `SEGMENTS` consecutive pieces of `N/SEGMENTS` steps (every
mesh is a power of two ≥ `MIN_STEPS`), integrated side by side (`vmap`): the same discrete
flow map as single shooting, composed from its pieces, so the same cycles to the same
tolerance. Why: an RK4 step of a 2–4 variable model is ~30 tiny XLA operations, whose
per-operation cost (~0.1–1 µs on CPU) dominates; 64 pieces side by side cost about what
one does, so the sequential chain is 64× shorter. Measured on ReducedHH (4096 steps,
shared 2-core machine): the Jacobian of the period map 117 ms by `jacfwd` through the whole
period, ~5 ms by the pieces; the corrector then takes exact Newton steps (quadratic: 3–5
per continuation step) instead of ~10 chord/Broyden steps with 3–5 fresh Jacobians."""


def _piece(system: System, x, period, p, frac, count):
    """One piece: RK4 from `x` over the steps `period·frac[:count]`; `(end, min, max)`."""

    def advance(i, carry):
        y, lo, hi = carry
        y = flow_step(system, y, period * frac[i], p)
        return y, jnp.minimum(lo, y), jnp.maximum(hi, y)

    return jax.lax.fori_loop(0, count, advance, (x, x, x))


def _pieces(system: System, xs, period, p, mesh: _Padded):
    """Every piece `k` from `xs[k]`, side by side, with its Jacobian with respect to
    `(x_k, T, p)`: `(jac (M, n, n+2), ends, mins, maxs (M, n))`."""
    n = system.n

    def one(x, frac):
        def end(z):
            out = _piece(system, z[:n], z[n], z[n + 1], frac, mesh.seg_count)
            return out[0], out

        z = jnp.concatenate([x, jnp.stack([period, p])])
        return jax.jacfwd(end, has_aux=True)(z)

    jac, (ends, lo, hi) = jax.vmap(one)(xs, mesh.seg)
    return jac, ends, lo, hi


def _starts(system: System, x0, period, p, mesh: _Padded):
    """`(M + 1, n)`: the pieces' starting points along the orbit from `x0` (one sequential
    pass over the period), and `φ_T(x0)` last."""

    def piece(k, xs):
        x = _piece(system, xs[k], period, p, mesh.seg[k], mesh.seg_count)[0]
        return xs.at[k + 1].set(x)

    xs = jnp.zeros((SEGMENTS + 1, x0.shape[0]), x0.dtype).at[0].set(x0)
    return jax.lax.fori_loop(0, SEGMENTS, piece, xs)


def _block_diag(blocks):
    """`(M, a, b)` blocks → the `(M·a, M·b)` block-diagonal matrix."""
    m, a, b = blocks.shape
    eye = jnp.eye(m, dtype=blocks.dtype)
    return (eye[:, None, :, None] * blocks[:, :, None, :]).reshape(m * a, m * b)


def _phase_row(system: System, x0, p):
    """`dV/dt(x0)` and its gradient in `x0` and in `p`."""

    def fv(x, q):
        return system.f(x, q)[system.v_index]

    return fv(x0, p), jax.grad(fv, argnums=(0, 1))(x0, p)


class _Shot(NamedTuple):
    """What `_shoot` returns: the solution `u = (x0, T, p)`, whether Newton converged, its
    iterations, the multiple-shooting unknowns `z`; and at `z`: the unit tangent oriented
    along `t_prev`, the monodromy matrix, the min and max of each variable over the orbit,
    the RK4 error estimate, and the Jacobian `∂residual/∂u`."""

    u: Any
    ok: Any
    steps: Any
    z: Any
    tangent: Any
    mono: Any
    lo: Any
    hi: Any
    error: Any
    jac: Any


@eqx.filter_jit
def _shoot(system: System, u0, d, c, steps, z0, use_z0, t_prev, max_steps):
    """Newton on `[residual(u); d·u − c] = 0` from `u0 = (x0, T, p)`, then the cycle's
    tangent, monodromy, range, error estimate and Jacobian at the solution (a `_Shot`).
    With `d = e_p` it finds the cycle at a fixed parameter, with `d` the tangent the
    arclength corrector, with `d = e_V` the cycle of a given peak V (from a Hopf point);
    `max_steps = 0`: no Newton step, the rest at `u0` (what `_info` returns).

    Solved by multiple shooting over the `SEGMENTS` pieces of the mesh: unknowns the
    pieces' starting points, `T` and `p`; equations each piece's end = the next piece's
    start (the last one's = the first's), `dV/dt(x_0) = 0` and the arclength condition on
    `(x_0, T, p)`. Its Jacobian (block bidiagonal, ~130–260 unknowns) comes from one
    vmapped forward-mode pass over the pieces, so every Newton step is exact.

    The pieces' starting points are those of one integration from `u0`'s `x0`, or (with
    `use_z0`) `z0`'s: a continuation predicts them along the branch (`_Tracer.step`),
    which keeps Newton in its quadratic range (from one integration, a phase error in the
    upstroke starts it ~20 mV off and it wanders for ~10 steps).

    One compiled program for the corrector and the cycle's data (they were two, each with
    its own copy of the pieces' forward-mode pass: ~2–3 s of compilation each): `root`
    hands back its last evaluation of the pieces' Jacobians (`aux0=`), taken at the iterate
    its last step started from, and the monodromy matrix is chained from those. At a
    converged cycle that is the solution to within Newton's last step (below `1e-11`
    relative: the multipliers, tangent and error estimate move by as little), with the
    pieces starting at Newton's unknowns, not at a fresh integration from `x0` (the same
    points to Newton's tolerance; on an unstable cycle a fresh integration drifts off by
    the multiplier)."""
    n, m = system.n, SEGMENTS
    x0, period, p = u0[:n], u0[n], u0[n + 1]
    start = jax.lax.cond(
        use_z0,
        lambda: z0,
        lambda: jnp.concatenate([_starts(system, x0, period, p, steps)[:m].ravel(), u0[n:]]),
    )
    shift = _block_diag(jnp.broadcast_to(jnp.eye(n, dtype=u0.dtype), (m, n, n)))
    shift = jnp.roll(shift, n, axis=1)  # x_{k+1} (x_0 after the last piece)

    def split(z):
        return z[: m * n].reshape(m, n), z[m * n], z[m * n + 1]

    def evaluate(z):
        xs, period, p = split(z)
        jac, ends, lo, hi = _pieces(system, xs, period, p, steps)
        phase, (g_x, g_p) = _phase_row(system, xs[0], p)
        u = jnp.concatenate([xs[0], jnp.stack([period, p])])
        value = jnp.concatenate(
            [(ends - jnp.roll(xs, -1, axis=0)).ravel(), jnp.stack([phase, d @ u - c])]
        )
        top = jnp.concatenate(
            [_block_diag(jac[:, :, :n]) - shift, jac[:, :, n:].reshape(m * n, 2)], axis=1
        )
        zeros = jnp.zeros((m - 1) * n, u0.dtype)
        rows = jnp.stack(
            [
                jnp.concatenate([g_x, zeros, jnp.stack([0.0, g_p])]),
                jnp.concatenate([d[:n], zeros, d[n:]]),
            ]
        )
        return jnp.concatenate([top, rows]), value, (jac, ends, lo, hi, g_x, g_p, z)

    size, dt = start.shape[0], start.dtype
    blank = (
        jnp.zeros((m, n, n + 2), dt),
        *(jnp.zeros((m, n), dt) for _ in range(3)),
        jnp.zeros(n, dt),
        jnp.zeros((), dt),
        jnp.zeros(size, dt),
    )
    info_only = max_steps == 0
    # one step at least: the loop's first evaluation (at the start) is what `_info` returns
    z, ok, k, aux = root(
        lambda z: evaluate(z)[1],
        start,
        rtol=_NEWTON_RTOL,
        max_steps=jnp.maximum(max_steps, 1),
        jacobian=evaluate,
        aux0=blank,
    )
    ok = ok & ~info_only
    jac_k, ends, lo_k, hi_k, g_x, g_p, z_eval = aux
    # the cycle's data from the last evaluation: at the solution to Newton's last step
    # (below 1e-11 relative), or at the start with `max_steps = 0`
    xs, period, p = split(z_eval)
    z = jnp.where(info_only, start, z)
    u = jnp.concatenate([z[:n], z[m * n :]])

    # each piece on its own with every two steps merged, from the same start: the local
    # Richardson differences `e_k`
    half = steps.seg.reshape(m, -1, 2).sum(axis=2)
    ends_half = jax.vmap(lambda x, fr: _piece(system, x, period, p, fr, steps.seg_count // 2)[0])(
        xs, half
    )
    local = ends - ends_half

    def chain(carry, piece):
        phi, g, diff = carry
        jk, e = piece
        return (jk[:, :n] @ phi, jk[:, :n] @ g + jk[:, n:], jk[:, :n] @ diff + e), None

    first = (jnp.eye(n, dtype=u.dtype), jnp.zeros((n, 2), u.dtype), jnp.zeros(n, u.dtype))
    (mono, g_tp, diff), _ = jax.lax.scan(chain, first, (jac_k, local))
    jac = jnp.concatenate(
        [
            jnp.concatenate([mono - jnp.eye(n, dtype=u.dtype), g_tp], axis=1),
            jnp.concatenate([g_x, jnp.stack([0.0, g_p])])[None],
        ]
    )
    lo, hi = jnp.min(lo_k, axis=0), jnp.max(hi_k, axis=0)
    e = jnp.zeros(n + 2).at[-1].set(1.0)
    t = jnp.linalg.solve(jnp.concatenate([jac, t_prev[None]]), e)
    t = jnp.where(jnp.all(t_prev == 0), jnp.linalg.svd(jac)[2][-1], t / jnp.linalg.norm(t))
    # the endpoint's Richardson difference `φ_N − φ_{N/2}`, to first order the local ones
    # carried to the end by the pieces' Jacobians (`diff`: no second integration over the
    # period); and the local ones not carried, which an unstable cycle does not amplify
    # (see the module's "Accuracy")
    endpoint = jnp.max(jnp.abs(diff)) / 15.0
    pieces = jnp.sum(jnp.max(jnp.abs(local), axis=1)) / 15.0
    return _Shot(u, ok, k, z, t, mono, lo, hi, jnp.minimum(endpoint, pieces), jac)


def _correct(system: System, u0, d, c, steps, z0, use_z0, t_prev=None) -> _Shot:
    """`_shoot`'s Newton from `u0` (at most `_CORRECTOR_STEPS`), with the cycle's data at
    the solution (tangent oriented along `t_prev`, default 0: from the SVD)."""
    tp = jnp.zeros(system.n + 2) if t_prev is None else t_prev
    steps_max = jnp.asarray(_CORRECTOR_STEPS, dtype=jnp.int32)
    return _shoot(system, u0, d, c, steps, z0, use_z0, tp, steps_max)


def _no_z(system: System):
    """`(z0, use_z0)` for `_correct` without predicted pieces."""
    return f64(np.zeros(SEGMENTS * system.n + 2)), jnp.asarray(False)


def _info(system: System, u, t_prev, steps):
    """At a cycle `u`: the unit tangent oriented along `t_prev` (any sign if `t_prev = 0`:
    then the null vector of the Jacobian from its SVD), the monodromy matrix, the min and max
    of each variable over the orbit, the RK4 error estimate of the endpoint, and the
    Jacobian `∂residual/∂u` (`_shoot` without a Newton step). The period map's derivatives
    are chained from the pieces' (`_pieces`, started from one sequential pass): `M =
    J_{M−1}⋯J_0`, and likewise for `∂φ/∂(T, p)` — the chain rule through the same RK4
    steps as one `jacfwd` over the period, at a fraction of its cost."""
    n = system.n
    zero = jnp.zeros(n + 2)
    shot = _shoot(
        system, u, zero, jnp.zeros(()), steps, *_no_z(system), t_prev, jnp.asarray(0, jnp.int32)
    )
    return shot[4:]


def _ns(mesh) -> _Padded:
    """A mesh for the jitted shooting functions (one compilation for all sizes up to
    `_CAPACITY` steps: see `_Padded`)."""
    return _pad(mesh)


def _tol(x) -> float:
    return RK_TOL * (1.0 + float(np.max(np.abs(x))))


def _error(system, x0, period, p, mesh) -> float:
    """The RK4 error estimate of `φ_T(x0)` on `mesh` (`_info`'s: one compiled function
    fewer, for a few ms more per call)."""
    u = f64(np.concatenate([np.asarray(x0, dtype=np.float64), [period, p]]))
    return float(_info(system, u, f64(np.zeros(system.n + 2)), _ns(mesh))[4])


def better_mesh(system: System, x0, period, p, mesh) -> np.ndarray:
    """`mesh` adapted to the orbit through `x0` (`_adapted`), then refined (steps doubled)
    until the estimated endpoint error is below `RK_TOL·(1 + max|x|)` or `MAX_STEPS`."""
    mesh = _adapted(system, x0, period, p, mesh)
    while len(mesh) < MAX_STEPS:
        err = _error(system, x0, period, p, mesh)
        if np.isfinite(err) and err <= _tol(x0):
            break
        mesh = _adapted(system, x0, period, p, _refine(mesh))
    return mesh


def choose_steps(system: System, x0, period, p) -> np.ndarray:
    """The mesh of fewest steps (a power of two ≥ `MIN_STEPS`), adapted to the orbit,
    whose estimated endpoint error over one period is below `RK_TOL·(1 + max|x|)`."""
    return better_mesh(system, x0, period, p, uniform_mesh(MIN_STEPS))


# ---------------------------------------------------------------------------------------
# results


def _sorted_multipliers(mono: np.ndarray) -> np.ndarray:
    """Eigenvalues of the monodromy matrix: the one closest to 1 (trivial) first, then by
    decreasing modulus."""
    mu = np.linalg.eigvals(np.asarray(mono, dtype=np.float64))
    i = int(np.argmin(np.abs(mu - 1.0)))
    rest = np.delete(mu, i)
    rest = rest[np.lexsort((-rest.imag, -np.abs(rest)))]
    return np.concatenate([[mu[i]], rest]).astype(complex)


@dataclasses.dataclass(frozen=True, repr=False)
class PeriodicOrbit:
    """One limit cycle, computed by shooting.

    - `parameter`: the continuation parameter's value (µA/cm² for the current, or the
      selected field's units).
    - `period`: ms.
    - `state`: `(n,)` the dynamical variables `variables` at phase 0, the maximum of V.
    - `multipliers`: `(n,)` complex Floquet multipliers, the trivial one (≈ 1) first, the
      others by decreasing modulus.
    - `minimum`, `maximum`: `(n,)` each variable's range over the orbit (mV for V).
    - `stable`: all nontrivial multipliers inside the unit circle.
    - `mesh`: the RK4 steps as fractions of the period (`steps` of them, adapted to the
      orbit's speed); `error`: the estimated RK4 error of the endpoint `φ_T(x0)`, or the
      sum of the multiple-shooting pieces' own errors when smaller (an unstable cycle:
      see the module's "Accuracy"; model units; below `RK_TOL·(1 + max|x|)`).
    - `variables`, `v_index`, `parameter_name`: what the columns and parameter are.
    """

    parameter: float
    period: float
    state: np.ndarray
    multipliers: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    stable: bool
    mesh: np.ndarray = None
    error: float = float("nan")
    variables: tuple[str, ...] = ()
    v_index: int = 0
    parameter_name: str = "current"
    _system: Any = dataclasses.field(default=None, compare=False)

    @property
    def steps(self) -> int:
        """RK4 steps per period of the shooting."""
        return len(self.mesh)

    @property
    def v_min(self) -> float:
        """Lowest V on the orbit (mV)."""
        return float(self.minimum[self.v_index])

    @property
    def v_max(self) -> float:
        """Peak V on the orbit (mV)."""
        return float(self.maximum[self.v_index])

    @property
    def amplitude(self) -> float:
        """Peak-to-peak V (mV)."""
        return self.v_max - self.v_min

    @property
    def frequency(self) -> float:
        """Firing frequency, Hz (period in ms)."""
        return 1000.0 / self.period

    def trajectory(self, points: int = 512) -> np.ndarray:
        """`(points, n)`: the orbit sampled at `points` equally spaced phases over one period
        (from phase 0, the V maximum), integrated with this orbit's RK4 step."""
        system = self._system
        with float64():
            mesh = uniform_mesh(max(points, self.steps))
            xs, _ = _nodes(system, self.state, self.period, self.parameter, mesh)
        xs = xs[:-1]
        return xs[:: max(1, len(xs) // points)]

    def __repr__(self):
        nontrivial = np.abs(self.multipliers[1:])
        lead = f", max|μ|={nontrivial.max():.3g}" if len(nontrivial) else ""
        return (
            f"PeriodicOrbit({self.parameter_name}={self.parameter:.8g}, "
            f"period={self.period:.6g} ms, V in [{self.v_min:.4g}, {self.v_max:.4g}] mV, "
            f"{'stable' if self.stable else 'unstable'}{lead})"
        )


@dataclasses.dataclass(frozen=True, repr=False)
class CycleBifurcationPoint(BifurcationPoint):
    """A bifurcation of limit cycles located on a `CycleContinuation` (a `BifurcationPoint`:
    `kind`, `parameter`, `state` at phase 0, `v`, with `eigenvalues` holding the Floquet
    multipliers and `omega = 2π/T`, so `period` is the cycle's period in ms).

    Kinds: `"fold of cycles"` (a multiplier through +1: the branch turns back; a stable and
    an unstable cycle meet and vanish), `"period doubling"` (a real multiplier through −1),
    `"torus"` (Neimark–Sacker: a complex pair through the unit circle).
    """

    mesh: np.ndarray = None
    system: Any = dataclasses.field(default=None, compare=False)

    @property
    def multipliers(self) -> np.ndarray:
        return self.eigenvalues

    def state_row(self, j: int) -> float:
        """Dynamical variable `j` of the cycle's point at phase 0 (the V maximum)."""
        with float64():
            return float(np.asarray(self.system.flatten(self.state))[j])


_KINDS = ("fold of cycles", "period doubling", "torus")
_VERTICAL = 1e-5
CANARD_END = (
    "fold of cycles, not passed: the branch turned vertical in the parameter (tangent's "
    "parameter component < 1e-5) with the cycle still strongly attracting (nontrivial "
    "multipliers < 1e-3), a canard-like explosion whose unstable side is beyond single "
    "shooting; the fold is at the last cycle, to the parameter's remaining change (< 1e-5 "
    "per unit of arclength)"
)


@dataclasses.dataclass(frozen=True, repr=False)
class CycleContinuation:
    """A branch of limit cycles traced by `continue_cycle`.

    - `parameter`, `period` (ms): `(k,)` along the branch (not monotone past a fold).
    - `state`: `(k, n)` the orbit's point at phase 0 (V maximum).
    - `minimum`, `maximum`: `(k, n)` each variable's range over the orbit (mV for V).
    - `multipliers`: `(k, n)` Floquet multipliers, the trivial one first.
    - `stable`: `(k,)`.
    - `points`: the `CycleBifurcationPoint`s located on it, in order.
    - `end`: why the continuation stopped.
    - `variables`, `v_index`, `parameter_name`.
    """

    parameter: np.ndarray
    period: np.ndarray
    state: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    multipliers: np.ndarray
    stable: np.ndarray
    points: tuple
    end: str
    variables: tuple[str, ...]
    v_index: int
    parameter_name: str
    meshes: tuple = ()
    _system: Any = dataclasses.field(default=None, compare=False)

    @property
    def steps(self) -> np.ndarray:
        """RK4 steps per period of each cycle's shooting."""
        return np.array([len(m) for m in self.meshes])

    def __len__(self) -> int:
        return len(self.parameter)

    @property
    def v_min(self) -> np.ndarray:
        return self.minimum[:, self.v_index]

    @property
    def v_max(self) -> np.ndarray:
        return self.maximum[:, self.v_index]

    @property
    def folds(self) -> list[CycleBifurcationPoint]:
        """The folds of cycles (saddle-node bifurcations of limit cycles)."""
        return [b for b in self.points if b.kind == "fold of cycles"]

    @property
    def period_doublings(self) -> list[CycleBifurcationPoint]:
        return [b for b in self.points if b.kind == "period doubling"]

    @property
    def tori(self) -> list[CycleBifurcationPoint]:
        return [b for b in self.points if b.kind == "torus"]

    def orbit(self, i: int) -> PeriodicOrbit:
        """The `i`-th cycle of the branch as a `PeriodicOrbit`."""
        return PeriodicOrbit(
            parameter=float(self.parameter[i]),
            period=float(self.period[i]),
            state=self.state[i].copy(),
            multipliers=self.multipliers[i].copy(),
            minimum=self.minimum[i].copy(),
            maximum=self.maximum[i].copy(),
            stable=bool(self.stable[i]),
            mesh=self.meshes[i],
            variables=self.variables,
            v_index=self.v_index,
            parameter_name=self.parameter_name,
            _system=self._system,
        )

    def __repr__(self):
        pts = ", ".join(f"{b.kind} at {b.parameter:.6g}" for b in self.points)
        n_stable = int(np.sum(self.stable))
        return (
            f"CycleContinuation({len(self)} cycles ({n_stable} stable), "
            f"{self.parameter_name} in [{self.parameter.min():.4g}, "
            f"{self.parameter.max():.4g}], period in [{self.period.min():.4g}, "
            f"{self.period.max():.4g}] ms, [{pts}], end: {self.end})"
        )

    def plot(self, ax=None, *, variable: str | None = None, color="C3", label="cycles"):
        """Min and max of `variable` (default V) over each cycle against the parameter:
        stable cycles solid, unstable dashed, bifurcations of cycles marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.gca()
        j = self.v_index if variable is None else self.variables.index(variable)
        p = self.parameter
        for arr in (self.minimum[:, j], self.maximum[:, j]):
            start = 0
            for i in range(1, len(p) + 1):
                if i == len(p) or self.stable[i] != self.stable[start]:
                    seg = slice(start, min(i + 1, len(p)))
                    stable = bool(self.stable[start])
                    ax.plot(
                        p[seg],
                        arr[seg],
                        color=color,
                        ls="-" if stable else "--",
                        lw=1.5,
                        label=(f"{'stable' if stable else 'unstable'} {label} (min/max)"),
                    )
                    start = i
        markers = {"fold of cycles": "s", "period doubling": "D", "torus": "P"}
        for b in self.points:
            y = b.v
            if variable is not None and self._system is not None:
                with float64():
                    y = float(np.asarray(self._system.flatten(b.state))[j])
            ax.plot(
                b.parameter, y, markers.get(b.kind, "o"), color="k", ms=6, mfc="none", label=b.kind
            )
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize="small")
        model = None if self._system is None else self._system.model
        voltage = self.variables[self.v_index]
        p_unit = unit_of(model, self.parameter_name, voltage=voltage)
        sym = "I" if self.parameter_name == "current" else self.parameter_name
        ax.set_xlabel(sym + (f" ({p_unit})" if p_unit else ""))
        name = variable or voltage
        y_unit = unit_of(model, name, voltage=voltage)
        ax.set_ylabel(name + (f" ({y_unit})" if y_unit else ""))
        return ax


# ---------------------------------------------------------------------------------------
# building orbits


def _orbit(
    system: System,
    u,
    steps: int,
    name: str,
    t_prev=None,
    with_jac: bool = False,
    info=None,
):
    """The `PeriodicOrbit` at the converged `u`, with its tangent and monodromy matrix (and
    the Jacobian `∂residual/∂u`, with `with_jac`). `info`: `_info`'s answer at `u` when the
    corrector already gave it (`_Shot[4:]`)."""
    n = system.n
    u = np.asarray(u, dtype=np.float64)
    tp = np.zeros(n + 2) if t_prev is None else np.asarray(t_prev)
    if info is None:
        info = _info(system, f64(u), f64(tp), _ns(steps))
    t, mono, lo, hi, err, jac = (np.asarray(a) for a in info)
    mu = _sorted_multipliers(mono)
    orbit = PeriodicOrbit(
        parameter=float(u[n + 1]),
        period=float(u[n]),
        state=u[:n].copy(),
        multipliers=mu,
        minimum=lo,
        maximum=hi,
        stable=bool(np.all(np.abs(mu[1:]) < 1.0)),
        mesh=np.asarray(steps),
        error=float(err),
        variables=system.variables,
        v_index=system.v_index,
        parameter_name=name,
        _system=system,
    )
    if with_jac:
        return orbit, t, mono, jac
    return orbit, t, mono


def _converge(system: System, u0, d, c, steps, t_prev=None):
    """Newton from `u0`, then more RK4 steps while the error estimate asks for them.
    Returns `(u, steps, ok, info)`, `info` `_info`'s answer at `u` (tangent oriented along
    `t_prev`)."""
    tp = None if t_prev is None else f64(t_prev)
    shot = _correct(system, f64(u0), f64(d), f64(c), _ns(steps), *_no_z(system), tp)
    u, ok = np.asarray(shot.u), shot.ok
    n = system.n
    for _ in range(8):
        if not bool(ok):
            break
        err = float(shot.error)
        if (np.isfinite(err) and err <= _tol(u[:n])) or len(steps) >= MAX_STEPS:
            break
        steps = better_mesh(system, u[:n], u[n], u[n + 1], steps)
        shot = _correct(system, f64(u), f64(d), f64(c), _ns(steps), *_no_z(system), tp)
        u, ok = np.asarray(shot.u), shot.ok
    return u, steps, bool(ok) and bool(np.all(np.isfinite(u))), shot[4:]


def _is_cycle(system: System, u) -> bool:
    n = system.n
    return bool(u[n] > 0)


def _system_for(model, parameter, current, caller) -> tuple[System, str]:
    name = parameter_name(model, parameter)
    system = make_system(model, current=current, parameter=parameter, caller=caller)
    if system.n < 2:
        raise NoCycleError(
            f"{system.model_name} has one dynamical variable ({system.variables[0]}): a "
            "one-dimensional flow has no periodic orbit."
        )
    return system, name


def find_cycle(
    model: AbstractModel,
    value: float,
    *,
    parameter: Callable | None = None,
    current: float = 0.0,
    guess=None,
    period: float | None = None,
    dt: float = 0.01,
    settle: float = 300.0,
    window: float = 100.0,
) -> PeriodicOrbit:
    """The limit cycle of `model` at parameter value `value`, by shooting.

    **Arguments**

    - `value`: the parameter's value (µA/cm² for the current).
    - `parameter`: `None` for the injected current, or a selector such as `lambda m: m.g_k`;
      `current`: the injected current when another parameter is varied.
    - `guess`: a point on (or near) the cycle (state NamedTuple, `FixedPoint`, or array of
      the dynamical variables). With `period` (ms) too, Newton starts from it directly;
      without, a simulation starts from it. Default: a simulation from the model's rest
      (`init_state`), nudged by 1e-4 relative.
    - `dt`, `settle`, `window` (ms): the simulation (fixed-step RK4): `settle` ms, then a
      `window` of a few periods where `detect_cycle` measures the period and the V maximum.

    The simulation finds stable cycles only; `guess` with `period` (or `cycle_from_hopf`,
    or `continue_cycle`) reaches unstable ones. Newton solves `φ_T(x0) = x0`,
    `dV/dt(x0) = 0` for `(x0, T)`.

    Raises `NoCycleError` when the simulation settles at rest or the Newton iteration does
    not converge to a cycle (say where it went).
    """
    check_real("find_cycle", "the parameter value", value)  # True was read as 1
    value = check_finite("find_cycle", "the parameter value", value)
    check_time(dt, "dt", positive=True)  # dt = 0 was a ZeroDivisionError
    check_time(settle, "settle", positive=False)
    check_time(window, "window", positive=True)
    if window < 4 * dt:  # window = 1e-3 ms failed in numpy ("zero-size array to reduction")
        raise ValueError(
            f"find_cycle: window={window!r} ms is shorter than 4 steps of dt={dt!r} ms; the "
            "window must hold a few periods of the cycle (default 100 ms)."
        )
    if settle < 0:
        raise ValueError(f"find_cycle: settle must be >= 0 ms, got {settle!r}.")
    if period is not None and guess is None:
        # a period alone was silently ignored (the simulation measured its own)
        raise ValueError(
            "find_cycle: period= is the period of guess= (Newton starts from both); without "
            "guess= it would be ignored. Pass guess= a state on the cycle too, or drop period=."
        )
    with float64():
        system, name = _system_for(model, parameter, current, "find_cycle")
        n = system.n
        if guess is not None and period is not None:
            x0 = as_flat(system, guess)
            period = float(period)
            if not period > 0:
                raise ValueError(f"period must be > 0 ms, got {period}.")
        else:
            x0 = np.asarray(system.initial()) if guess is None else as_flat(system, guess)
            if not np.all(np.isfinite(x0)):  # was reported as "settles at rest (V range nan)"
                raise ValueError(
                    f"find_cycle: guess has non-finite values ({x0.tolist()}, variables "
                    f"{system.variables}); give a finite state."
                )
            if guess is None:
                x0 = x0 + 1e-4 * (1.0 + np.abs(x0))
            n_settle, n_window = int(round(settle / dt)), int(round(window / dt))
            xs = np.asarray(_trajectory(system, f64(x0), f64(value), f64(dt), n_settle, n_window))
            v = xs[:, system.v_index]
            if not np.all(np.isfinite(xs)):
                # dt = 10 ms (RK4 unstable) was reported as "settles at rest (V range nan mV)"
                raise NoCycleError(
                    f"find_cycle: the simulation of {system.model_name} at {name}={value:g} "
                    f"became NaN or inf (fixed-step RK4, dt = {dt:g} ms, {settle:g} + "
                    f"{window:g} ms): not a statement about cycles. Use a smaller dt (default "
                    "0.01 ms), or check the parameters."
                )
            cyc = detect_cycle(jnp.asarray(v), dt, 1e-2)
            if not bool(cyc.oscillating):
                raise NoCycleError(
                    f"{system.model_name} at {name}={value:g} settles at rest (V range "
                    f"{np.ptp(v[len(v) // 2 :]):.3g} mV over the last {window / 2:g} ms "
                    f"after {settle:g} ms) from the start "
                    f"{'given' if guess is not None else 'at rest'}: no stable cycle reached. "
                    "Pass guess= a state on the cycle (e.g. depolarised), guess= with period= "
                    "for an unstable one, or start from a Hopf point (cycle_from_hopf)."
                )
            i0, i1 = int(cyc.i0), int(cyc.i1)
            i1 = min(i1, len(v))
            k = i0 + int(np.argmax(v[i0:i1]))
            x0, period = xs[k], float(cyc.period)
        steps = choose_steps(system, x0, period, value)
        u0 = np.concatenate([x0, [period, value]])
        d = np.zeros(n + 2)
        d[-1] = 1.0
        u, steps, ok, info = _converge(system, u0, d, value, steps)
        if not ok or not _is_cycle(system, u):
            raise NoCycleError(
                f"no limit cycle of {system.model_name} found near the guess at "
                f"{name}={value:g} (period guess {period:.4g} ms): Newton's method on the "
                "shooting equations did not converge. Give a better guess (a point of the "
                "cycle and its period) or continue from a cycle nearby (continue_cycle)."
            )
        orbit, _, _ = _orbit(system, u, steps, name, info=info)
        if orbit.amplitude <= 1e-6 * (1.0 + abs(orbit.v_max)):
            raise NoCycleError(
                f"Newton's method converged onto the equilibrium of {system.model_name} at "
                f"{name}={value:g} (V = {orbit.v_max:.6g} mV), not a cycle: give a guess "
                "farther from rest, or a larger amplitude from a Hopf point."
            )
        return orbit


def _hopf_data(system: System, hopf: BifurcationPoint):
    x = np.asarray(system.flatten(hopf.state))
    p = float(hopf.parameter)
    a = jacobian_batch(system, x[None], [p])[0]
    ev, vecs = np.linalg.eig(a)
    pos = np.flatnonzero(ev.imag > 0)
    if len(pos) == 0:
        raise ValueError(f"{hopf!r} has no complex pair of eigenvalues: not a Hopf point.")
    i = pos[np.argmin(np.abs(ev[pos].real))]
    q = vecs[:, i] / vecs[system.v_index, i]  # V component 1: V(t) = V* + ε cos(ωt)
    return x, p, float(ev[i].imag), q


def cycle_from_hopf(
    model: AbstractModel,
    hopf: BifurcationPoint,
    *,
    amplitude: float | None = None,
    parameter: Callable | None = None,
    current: float = 0.0,
) -> PeriodicOrbit:
    """The small cycle born at a Hopf point (from `continuation`), by shooting.

    Starts from the linearisation `x(t) = x* + ε·Re(q e^{iωt})` (`q` the critical
    eigenvector, scaled so that V oscillates as `V* + ε cos ωt`), period `2π/ω`, at the Hopf
    point's parameter, and solves for the cycle whose V peak is `V* + ε` — the parameter
    is an unknown, so the side on which the cycle exists (sub- or supercritical) is found,
    not assumed.

    - `amplitude`: `ε`, mV (default `1e-3·(1 + |V*|)`, ~0.06 mV for HH): small, so the
      linearisation is a good guess; larger if Newton converges onto the equilibrium.
    - `parameter`, `current`: as given to the `continuation` that found `hopf`.
    """
    if not isinstance(hopf, BifurcationPoint) or hopf.kind != "hopf":
        raise TypeError(f"cycle_from_hopf needs a Hopf BifurcationPoint, got {hopf!r}.")
    _positive_or_none("cycle_from_hopf", "amplitude", amplitude)
    with float64():
        system, name = _system_for(model, parameter, current, "cycle_from_hopf")
        return _from_hopf(system, name, hopf, amplitude)[0]


def _from_hopf(system: System, name: str, hopf: BifurcationPoint, amplitude):
    x, p, omega, q = _hopf_data(system, hopf)
    n, k = system.n, system.v_index
    eps = 1e-3 * (1.0 + abs(x[k])) if amplitude is None else float(amplitude)
    period = 2 * np.pi / omega
    for _ in range(6):
        u0 = np.concatenate([x + eps * q.real, [period, p]])
        d = np.zeros(n + 2)
        d[k] = 1.0
        steps = choose_steps(system, u0[:n], period, p)
        u, steps, ok, info = _converge(system, u0, d, x[k] + eps, steps)
        if ok and _is_cycle(system, u):
            orbit, t, mono = _orbit(system, u, steps, name, info=info)
            if orbit.amplitude > 0.5 * eps:
                return orbit, t, mono, eps
        eps *= 0.5
    raise NoCycleError(
        f"no cycle found near the Hopf point of {system.model_name} at {name}="
        f"{p:.8g}: Newton from the linearised oscillation did not converge (amplitudes "
        f"down to {eps:.3g} mV tried). Check that it is a Hopf point of this model and "
        "parameter."
    )


# ---------------------------------------------------------------------------------------
# continuation


def _fold_test(t, mono) -> float:
    return float(t[-1])


def _pd_test(t, mono) -> float:
    return float(np.linalg.det(np.asarray(mono) + np.eye(len(mono))))


def _torus_test(t, mono) -> float:
    """`max|μ| − 1` over the nontrivial complex multipliers away from +1 (NaN if none)."""
    mu = _sorted_multipliers(mono)[1:]
    scale = max(1.0, float(np.max(np.abs(mu)))) if len(mu) else 1.0
    cplx = mu[(np.abs(mu.imag) > 1e-7 * scale) & (np.abs(mu - 1.0) > 1e-2)]
    return float(np.max(np.abs(cplx)) - 1.0) if len(cplx) else float("nan")


_TESTS = {"fold of cycles": _fold_test, "period doubling": _pd_test, "torus": _torus_test}


class _Tracer:
    """State of one continuation run."""

    def __init__(self, system: System, name: str):
        self.system = system
        self.name = name
        self.n = system.n
        self.history: list = []  # (u, multiple-shooting unknowns, mesh) of accepted cycles
        self.z_new = None
        self.chord_z = None
        self.last = None  # (u, t_prev, mesh, info) of the last corrector

    def step(self, u, t, h, steps):
        """Predictor `u + h·t`, corrector on the hyperplane through it orthogonal to `t`.
        The pieces' starting points of the multiple shooting are predicted too, by the
        secant through the last two cycles (same mesh) in the space of all the unknowns
        `(x_0 … x_{M−1}, T, p)`, scaled to the step `h` (measured: from ~12 Newton steps
        per continuation step with the pieces from one integration to 3–5)."""
        n = self.n
        pred = u + h * t
        z0, use = _no_z(self.system)
        recent = self.history[-2:]
        if len(recent) == 2 and all(m is steps for _, _, m in recent):
            (u1, z1, _), (u2, z2, _) = recent
            dist = float(np.linalg.norm(u2 - u1))
            if dist > 0 and np.array_equal(u2, u):
                guess = z2 + (h / dist) * (z2 - z1)
                guess[:n], guess[-2:] = pred[:n], pred[n:]
                z0, use = f64(guess), jnp.asarray(True)
        shot = _correct(self.system, f64(pred), f64(t), f64(t @ pred), _ns(steps), z0, use, f64(t))
        self.z_new = np.asarray(shot.z)
        w = np.asarray(shot.u)
        # the cycle's data at `w`, tangent oriented along `t` (what `info(w, t, steps)` asks)
        self.last = (w, np.asarray(t), steps, shot[4:])
        return w, bool(shot.ok), int(shot.steps)

    def info(self, u, t_prev, steps):
        """`(orbit, tangent, monodromy)` at `u` (from the last corrector's answer when it
        was at `u`, oriented along `t_prev`, on `steps`)."""
        info = None
        if self.last is not None and t_prev is not None:
            w, t, mesh, got = self.last
            if mesh is steps and np.array_equal(w, u) and np.array_equal(t, t_prev):
                info = got
        orbit, t, mono = _orbit(self.system, u, steps, self.name, t_prev, info=info)
        return orbit, t, mono

    def chord(self, ua, ub, theta, ta, steps):
        """The branch point on the hyperplane through `ua + θ(ub − ua)` orthogonal to the
        chord; the multiple-shooting pieces start on the chord between the two cycles'
        (`self.chord_z`, when known: from one integration an unstable cycle's pieces start
        too far off for Newton)."""
        d = (ub - ua) / np.linalg.norm(ub - ua)
        u0 = ua + theta * (ub - ua)
        z0, use = _no_z(self.system)
        if self.chord_z is not None:
            za, zb = self.chord_z
            z0, use = f64(za + theta * (zb - za)), jnp.asarray(True)
        shot = _correct(self.system, f64(u0), f64(d), f64(d @ u0), _ns(steps), z0, use, f64(ta))
        w = np.asarray(shot.u)
        if not bool(shot.ok):
            return None
        orbit, t, mono = _orbit(self.system, w, steps, self.name, ta, info=shot[4:])
        return w, orbit, t, mono

    def locate(self, ua, ta, ub, test, fa, fb, steps):
        """The zero of `test(t, monodromy)` between the branch points `ua` and `ub`:
        Illinois (regula falsi) on the chord parameter θ, every trial point corrected onto
        the branch; to |Δθ| < 1e-10. Returns `(u, orbit)` or None."""
        a, b = 0.0, 1.0
        best = None
        side = 0
        self.chord_z = None
        last = self.history[-1] if self.history else None
        if last is not None and last[2] is steps and np.array_equal(last[0], ua):
            self.chord_z = (last[1], self.z_new)
        for _ in range(60):
            theta = b - fb * (b - a) / (fb - fa) if fb != fa else 0.5 * (a + b)
            if not (a < theta < b):
                theta = 0.5 * (a + b)
            got = self.chord(ua, ub, theta, ta, steps)
            if got is None:
                return best
            w, orbit, t, mono = got
            fm = _TESTS[test](t, mono)
            if not np.isfinite(fm):
                return best
            best = (w, orbit)
            if fm == 0.0 or b - a < 1e-10:
                break
            if np.sign(fm) == np.sign(fa):
                a, fa = theta, fm
                if side == -1:
                    fb *= 0.5
                side = -1
            else:
                b, fb = theta, fm
                if side == 1:
                    fa *= 0.5
                side = 1
            if abs(b - a) < 1e-10:
                break
        return best


def _make_point(kind, orbit: PeriodicOrbit, system: System) -> CycleBifurcationPoint:
    return CycleBifurcationPoint(
        kind=kind,
        parameter=orbit.parameter,
        state=state_to_numpy(system, orbit.state),
        v=float(orbit.state[system.v_index]),
        eigenvalues=orbit.multipliers,
        omega=2 * np.pi / orbit.period,
        mesh=orbit.mesh,
        system=system,
    )


def continue_cycle(
    model: AbstractModel,
    start,
    stop: float,
    *,
    parameter: Callable | None = None,
    current: float = 0.0,
    bounds: tuple[float, float] | None = None,
    max_step: float | None = None,
    min_step: float | None = None,
    max_points: int = 300,
    max_period: float | None = None,
    min_amplitude: float | None = None,
    amplitude: float | None = None,
) -> CycleContinuation:
    """Follow a branch of limit cycles of `model` in a parameter (pseudo-arclength
    continuation of the shooting equations), with period, range of each variable and
    Floquet multipliers at every cycle, and its bifurcations located.

    **Arguments**

    - `start`: a `PeriodicOrbit` (from `find_cycle`): the branch is followed towards `stop`;
      or a Hopf `BifurcationPoint` (from `continuation`): the branch born there, in the
      direction where the amplitude grows (`amplitude`: see `cycle_from_hopf`); or a
      `CycleBifurcationPoint` of another branch (continued towards `stop`).
    - `stop`: the parameter value where the continuation ends (µA/cm² for the current).
    - `parameter`, `current`: as in `continuation` (ignored for a `PeriodicOrbit` start,
      which knows its own).
    - `bounds`: optional `(low, high)`: stop also when the parameter leaves it.
    - `max_step`, `min_step`: arclength steps in `(x0, T, p)` (mV, ms, parameter units;
      default `max(|stop − start|, 1)/5` and 1e-7 of it).
    - `max_points`, `max_period` (ms; default 20× the shortest period met),
      `min_amplitude` (mV of V peak-to-peak; default half the start's when starting from a
      Hopf point, else 1e-3 of the start's).

    **Method.** Unknowns `u = (x0, T, p)`; equations `φ_T(x0) − x0 = 0`, `dV/dt(x0) = 0`,
    and the arclength condition `t·(u − u_pred) = 0` (Keller 1977); Newton with the autodiff
    Jacobian. Step control as in `continuation`. Between consecutive cycles, a sign change
    of the tangent's parameter component flags a **fold of cycles** (a multiplier through
    +1, the branch turns), of `det(M + I)` (M the monodromy matrix) a **period doubling**,
    of `max|μ| − 1` over complex nontrivial multipliers a **torus** bifurcation; each is
    located by regula falsi along the chord (each trial cycle corrected onto the branch).

    **Ends** (`.end`): `"reached stop"`, `"left bounds"`, `"period → ∞ (homoclinic or SNIC
    approach)"` (period above `max_period`, or the steps collapse while the period grows),
    `"amplitude → 0 (Hopf)"`, `"closed branch (isola)"`, `"max points"`, or `"step below
    min_step"`.
    """
    check_real("continue_cycle", "stop", stop)  # "1" was parsed
    stop = check_finite("continue_cycle", "stop", stop)
    max_points = check_max_points("continue_cycle", max_points)  # 2.7 was read as 2
    bounds = _check_bounds(bounds)
    for what, value in (
        ("max_step", max_step),
        ("min_step", min_step),
        ("max_period", max_period),
        ("amplitude", amplitude),
    ):
        # max_step = 0 or NaN looped forever (the step halved from 0 never fell below
        # min_step = 0); max_step < 0 returned the start alone, ended "step below min_step"
        _positive_or_none("continue_cycle", what, value)
    if min_amplitude is not None:
        check_real("continue_cycle", "min_amplitude", min_amplitude, " (mV)")
        if not (np.isfinite(min_amplitude) and min_amplitude >= 0):
            raise ValueError(
                f"continue_cycle: min_amplitude must be a finite peak-to-peak V >= 0 mV, got "
                f"{min_amplitude!r}."
            )
    with float64():
        if isinstance(start, PeriodicOrbit):
            system, name = start._system, start.parameter_name
            if system is None:
                raise ValueError("this PeriodicOrbit carries no model: make it with find_cycle.")
            orbit0 = start
            from_hopf = False
        elif isinstance(start, BifurcationPoint) and start.kind == "hopf":
            system, name = _system_for(model, parameter, current, "continue_cycle")
            orbit0, _, _, _ = _from_hopf(system, name, start, amplitude)
            from_hopf = True
        elif isinstance(start, BifurcationPoint):
            system, name = _system_for(model, parameter, current, "continue_cycle")
            if start.omega is None:
                raise ValueError(f"{start!r} is no cycle: give a PeriodicOrbit or a Hopf point.")
            orbit0 = find_cycle(
                model,
                start.parameter,
                parameter=parameter,
                current=current,
                guess=start.state,
                period=start.period,
            )
            system = orbit0._system
            from_hopf = False
        else:
            raise TypeError(
                "start must be a PeriodicOrbit (find_cycle), or a Hopf BifurcationPoint "
                f"(continuation), got {type(start).__name__}."
            )
        return _continue(
            system,
            name,
            orbit0,
            stop,
            from_hopf,
            bounds=bounds,
            max_step=max_step,
            min_step=min_step,
            max_points=int(max_points),
            max_period=max_period,
            min_amplitude=min_amplitude,
        )


def _positive_or_none(caller: str, name: str, value) -> None:
    """`None`, or a finite real number > 0; else a clear error naming it."""
    if value is None:
        return
    check_real(caller, name, value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{caller}: {name} must be a finite number > 0 (or None), got {value!r}.")


def _check_bounds(bounds):
    """`continue_cycle`'s `bounds`: `None` or `(low, high)`, real, not NaN, `low < high`
    (±inf allowed: one-sided). A reversed pair ended every branch at its first step as
    "left bounds"; a scalar failed unpacking with Python's own message."""
    if bounds is None:
        return None
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise ValueError(
            f"continue_cycle: bounds must be None or a pair (low, high) of parameter values, "
            f"got {bounds!r}."
        ) from None
    for value in (lo, hi):
        check_real("continue_cycle", "bounds", value)
    lo, hi = float(lo), float(hi)
    if np.isnan(lo) or np.isnan(hi) or not lo < hi:
        raise ValueError(
            f"continue_cycle: bounds=({lo:g}, {hi:g}) must be (low, high) with low < high "
            "(not NaN; ±inf for one side unbounded)."
        )
    return lo, hi


def _u(orbit: PeriodicOrbit) -> np.ndarray:
    return np.concatenate([orbit.state, [orbit.period, orbit.parameter]])


def _continue(
    system,
    name,
    orbit0,
    stop,
    from_hopf,
    *,
    bounds,
    max_step,
    min_step,
    max_points,
    max_period,
    min_amplitude,
) -> CycleContinuation:
    n = system.n
    tr = _Tracer(system, name)
    p0 = orbit0.parameter
    span = max(abs(stop - p0), 1.0)
    max_step = span / 5 if max_step is None else float(max_step)
    min_step = 1e-7 * max_step if min_step is None else float(min_step)
    if not (0 < min_step < max_step and np.isfinite(max_step)):
        raise ValueError(
            f"continue_cycle: need 0 < min_step < max_step (arclength steps in (x0, T, p)), "
            f"got min_step={min_step}, max_step={max_step}."
        )
    if max_period is not None and max_period <= orbit0.period:
        # the first cycle beyond the start ended the branch as "period → ∞"
        raise ValueError(
            f"continue_cycle: max_period={max_period} ms is not above the starting cycle's "
            f"period ({orbit0.period:.6g} ms): the branch would end at its first step as a "
            "period → ∞ end. Give a larger max_period (default: 20× the shortest period met)."
        )
    if min_amplitude is not None and not from_hopf and min_amplitude >= orbit0.amplitude:
        # the first cycle beyond the start ended the branch as "amplitude → 0 (Hopf)"
        raise ValueError(
            f"continue_cycle: min_amplitude={min_amplitude} mV is not below the starting "
            f"cycle's peak-to-peak V ({orbit0.amplitude:.6g} mV): the branch would end at its "
            "first step as an amplitude → 0 (Hopf) end. Give a smaller min_amplitude (default "
            "1e-3 of the start's)."
        )
    if min_amplitude is None:
        min_amplitude = (0.5 if from_hopf else 1e-3) * orbit0.amplitude
    steps = orbit0.mesh
    u = _u(orbit0)
    orbit, t, mono = tr.info(u, None, steps)
    if from_hopf:
        if t[system.v_index] < 0:  # away from the Hopf point: the V peak grows
            t = -t
    elif t[-1] * (stop - p0) < 0:
        t = -t
    orbits, us, ts = [orbit], [u], [t]
    points = []
    h = max_step / 10
    end = "max points"
    shortest = orbit.period
    lo_b, hi_b = bounds if bounds is not None else (-np.inf, np.inf)
    while len(orbits) < max_points:
        mesh_used = steps
        w, ok, k = tr.step(u, t, h, steps)
        good = ok and np.all(np.isfinite(w)) and w[n] > 0 and np.linalg.norm(w - u) < 2 * h
        if good:
            new, t_new, mono_new = tr.info(w, t, steps)
            good = np.dot(t, t_new) > 0.9 and np.isfinite(new.error)
        if good and new.error > _tol(w[:n]) and len(steps) < MAX_STEPS:
            steps = better_mesh(system, w[:n], w[n], w[-1], steps)
            continue
        if not good:
            h /= 2
            canard = abs(t[-1]) < _VERTICAL and h < 1e-3 * max_step
            if h < min_step or canard:
                if abs(t[-1]) < _VERTICAL:
                    # the branch turned vertical in p and cannot be followed past: a fold
                    # whose other side is beyond single shooting (canard-like explosion)
                    points.append(_make_point("fold of cycles", orbit, system))
                    end = CANARD_END
                elif u[n] > 3 * shortest:
                    end = "period → ∞ (homoclinic or SNIC approach)"
                else:
                    end = "step below min_step"
                break
            continue
        # bifurcations between the last cycle and this one
        for kind, test in _TESTS.items():
            fa, fb = test(t, mono), test(t_new, mono_new)
            if np.isfinite(fa) and np.isfinite(fb) and fa * fb < 0:
                got = tr.locate(u, t, w, kind, fa, fb, steps)
                if got is not None:
                    pw, porbit = got
                    points.append(_make_point(kind, porbit, system))
        p_new = w[-1]
        crossed = (u[-1] - stop) * (p_new - stop) <= 0 and p_new != u[-1]
        out = not lo_b <= p_new <= hi_b
        if crossed or out:
            edge = stop if crossed else (hi_b if p_new > hi_b else lo_b)
            d = np.zeros(n + 2)
            d[-1] = 1.0
            theta = (edge - u[-1]) / (p_new - u[-1])
            ue, steps_e, ok_e, info_e = _converge(system, u + theta * (w - u), d, edge, steps, t)
            if ok_e:
                last, te, _ = _orbit(system, ue, steps_e, name, t, info=info_e)
                orbits.append(last)
                us.append(ue)
                ts.append(te)
            end = "reached stop" if crossed else "left bounds"
            break
        orbits.append(new)
        us.append(w)
        ts.append(t_new)
        shortest = min(shortest, new.period)
        limit = 20 * shortest if max_period is None else float(max_period)
        if new.period > limit:
            end = "period → ∞ (homoclinic or SNIC approach)"
            break
        if new.amplitude < min_amplitude:
            end = "amplitude → 0 (Hopf)"
            break
        if abs(t_new[-1]) < _VERTICAL and np.all(np.abs(new.multipliers[1:]) < 1e-3):
            # vertical in p, yet no multiplier near 1: not a fold this discretisation can
            # turn round (a canard explosion); the fold is here, to the remaining change in p
            points.append(_make_point("fold of cycles", new, system))
            end = CANARD_END
            break
        if len(us) > 10 and np.linalg.norm(w - us[0]) < h and np.dot(t_new, ts[0]) > 0.9:
            end = "closed branch (isola)"
            break
        if new.error < _tol(w[:n]) / 32 and len(steps) > MIN_STEPS:
            steps = _adapted(system, w[:n], w[n], w[-1], _coarse(steps))
        tr.history = [*tr.history[-1:], (w, tr.z_new, mesh_used)]
        u, t, orbit, mono = w, t_new, new, mono_new
        if k <= 8 and np.dot(t, ts[-2]) > 0.99:
            h = min(1.5 * h, max_step)
    return CycleContinuation(
        parameter=np.array([o.parameter for o in orbits]),
        period=np.array([o.period for o in orbits]),
        state=np.array([o.state for o in orbits]),
        minimum=np.array([o.minimum for o in orbits]),
        maximum=np.array([o.maximum for o in orbits]),
        multipliers=np.array([o.multipliers for o in orbits]),
        stable=np.array([o.stable for o in orbits]),
        points=tuple(points),
        end=end,
        variables=system.variables,
        v_index=system.v_index,
        parameter_name=name,
        meshes=tuple(o.mesh for o in orbits),
        _system=system,
    )


# ---------------------------------------------------------------------------------------
# derivatives by the implicit function theorem


def _stop(tree):
    return jax.tree_util.tree_map(
        lambda x: jax.lax.stop_gradient(x) if eqx.is_array(x) else x, tree
    )


def _live(system: System, model, current, param_none: bool) -> System:
    """`system` with `model` (traced, cast to float64) and the current `current`."""
    model = to_float64(model)
    cur = jnp.asarray(current, dtype=jnp.float64)
    fields = dict(model=model, current=cur)
    if param_none:
        fields["param"] = None
    return dataclasses.replace(system, **fields)


def _raise_unless(ok, message: str):
    try:
        converged = bool(ok)
    except jax.errors.ConcretizationTypeError:  # under jit: NaN marks the failure
        return
    if not converged:
        raise NoCycleError(message)


@eqx.filter_jit
def _residual_rev(system: System, u, mesh):
    """`_residual` on a plain mesh array (a `scan`): reverse-differentiable in `system`'s
    parameters, compiled once per mesh size and reused across calls under `jax.grad`."""
    return _residual(system, u, mesh)


def _require_x64_for_derivatives(name: str, model, current) -> None:
    """The continuation runs in float64 inside `float64()`; a derivative taken outside it
    with 64-bit JAX disabled would be transposed in float32 and fail inside JAX with a
    dtype mismatch. Say what to do instead."""
    traced = [x for x in jtu.tree_leaves((model, current)) if isinstance(x, jax.core.Tracer)]
    if traced and not jax.config.jax_enable_x64:
        raise TypeError(
            f"{name}: its derivative is computed in float64, like the continuation itself; "
            "enable 64-bit JAX for the transformation: jax.config.update('jax_enable_x64', "
            "True) at the start, or build the model and take the gradient inside "
            "`with jax.enable_x64(True):`."
        )


def cycle_period(model: AbstractModel, orbit: PeriodicOrbit, *, current=None):
    """The period (ms) of the limit cycle of `model` near `orbit`, differentiable with
    respect to every parameter of `model` and to `current` (`jax.grad`, `jax.jvp`).

    - `model`: the model whose cycle it is (same class as the one `orbit` was found for;
      its parameters may be traced).
    - `orbit`: a `PeriodicOrbit` (from `find_cycle` or a `CycleContinuation`): the starting
      guess, and the step count of the shooting.
    - `current`: the injected current (µA/cm²); default: `orbit.parameter` when the orbit's
      parameter is the current, else the current it was computed at. When the orbit was
      continued in a model field (`lambda m: m.g_k`), the field's value in `model` is used,
      not `orbit.parameter`.

    Newton on `φ_T(x0) = x0, dV/dt(x0) = 0` at fixed parameters (no gradient flows through
    the iterations); then, by the implicit function theorem, `dT/dθ = −[A⁻¹ ∂G/∂θ]_T` with
    `A = ∂G/∂(x0, T)`: only one reverse pass through one period. Traceable (under `jax.jit`
    a failed Newton iteration gives NaN; outside it raises `NoCycleError`).
    """
    if not isinstance(orbit, PeriodicOrbit) or orbit._system is None:
        raise TypeError(f"cycle_period needs a PeriodicOrbit from find_cycle, got {orbit!r}.")
    _require_x64_for_derivatives("cycle_period", model, current)
    system0 = orbit._system
    n = system0.n
    if current is None:
        current = orbit.parameter if system0.param is None else system0.current
    with float64():
        live = _live(system0, model, current, True)
        frozen = _stop(live)
        p = frozen.current
        steps = orbit.mesh
        d = jnp.zeros(n + 2).at[-1].set(1.0)
        u0 = jnp.concatenate([f64(orbit.state), f64([orbit.period]), p[None]])
        shot = _correct(frozen, u0, d, p, _ns(steps), *_no_z(frozen))
        u, ok = shot.u, shot.ok
        _raise_unless(
            ok,
            f"cycle_period: no limit cycle of {system0.model_name} near the given orbit "
            f"(period {orbit.period:.6g} ms) with these parameters: Newton did not converge.",
        )
        w = jax.lax.stop_gradient(u[: n + 1])

        # ∂G/∂(x0, T) at the solution, from the corrector's own answer (the same
        # compilation as the continuation's)
        a = jax.lax.stop_gradient(shot.jac)[:, : n + 1]
        r = _residual_rev(live, jnp.concatenate([w, live.current[None]]), f64(steps))
        delta = jnp.linalg.solve(a, r - jax.lax.stop_gradient(r))
        return jnp.where(ok, w[n] - delta[n], jnp.nan)


@eqx.filter_jit
def _fold_newton(system: System, u0, b, c, steps):
    """Newton on the fold-of-cycles system `[G(u); s(u)] = 0`, `s` the bordered test
    function: `[[G_(x,T), b], [cᵀ, 0]] [v; s] = [0; 1]` (Govaerts 2000, §3.2), which
    vanishes where `G_(x,T)` is singular. Returns `(u, converged, left null vector,
    ∂G/∂p)` at the solution."""
    n = system.n

    def g(u):
        return _residual(system, u, steps)

    def s(u):
        jxt = jax.jacfwd(g)(u)[:, : n + 1]
        m = jnp.block([[jxt, b[:, None]], [c[None, :], jnp.zeros((1, 1))]])
        return jnp.linalg.solve(m, jnp.zeros(n + 2).at[-1].set(1.0))[-1]

    def h(u):
        return jnp.concatenate([g(u), s(u)[None]])

    u, ok, _ = root(h, u0, rtol=1e-10, max_steps=25)
    jac = jax.jacfwd(g)(u)
    left = jnp.linalg.svd(jac[:, : n + 1])[0][:, -1]
    return u, ok, left, jac[:, -1]


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _fold_at(system: System, u0, mesh):
    """The fold of cycles of `system` by `_fold_newton` from `u0`, bordered with the
    singular vectors of `∂G/∂(x0, T)` at `u0`."""
    n = system.n
    info = _info(system, u0, f64(np.zeros(n + 2)), _ns(mesh))
    jxt = np.asarray(info[5])[:, : n + 1]
    if not np.all(np.isfinite(jxt)):  # `u0` is no cycle of `system` (the flow failed)
        return u0, jnp.asarray(False), None, None
    uu, _, vt = np.linalg.svd(jxt)
    return _fold_newton(system, u0, f64(uu[:, -1]), f64(vt[-1]), _ns(mesh))


FOLD_HOMOTOPY_MAX_SUBSTEPS = 64
"""`fold_of_cycles` follows the fold from the original parameters to the requested ones in
at most this many equal substeps (halving the substep on a failed Newton solve)."""


def _fold_homotopy(system0: System, target: System, u0, mesh):
    """The fold of `target` reached from that of `system0` (at `u0`) by moving every
    floating parameter (and the current) along the straight line between the two, with
    the fold re-solved at each substep."""

    def blend(lam):
        def mix(a, b):
            if eqx.is_inexact_array(a):
                return a + lam * (b - a)
            return b

        model = jtu.tree_map(mix, to_float64(system0.model), target.model)
        cur = system0.current + lam * (target.current - system0.current)
        return dataclasses.replace(target, model=model, current=cur)

    lam, step, u = 0.0, 0.25, u0
    while lam < 1.0:
        nxt = min(1.0, lam + step)
        res = _fold_at(blend(nxt), u, mesh)
        if bool(res[1]):
            lam, u = nxt, res[0]
            if nxt == 1.0:
                return res
            step = min(2 * step, 1.0 - lam)
        else:
            step /= 2
            if step < 1.0 / FOLD_HOMOTOPY_MAX_SUBSTEPS:
                break
    return _fold_at(target, u, mesh)


def _check_same_model(caller: str, model, system0: System):
    """A clear error unless `model` is a point model of the class (and parameter layout)
    whose fold or cycle was computed: the derivative replaces that model's parameters."""
    check_point_model(model, caller)
    from ..cable._one_compartment import as_point_model

    model = as_point_model(model, caller)  # a one-compartment Cell: its point view
    want = type(system0.model)
    if type(model) is not want:
        raise TypeError(
            f"{caller}: this point was computed for {want.__name__}, but the model given is "
            f"{type(model).__name__}; pass a {want.__name__} (its parameters may differ and "
            "be traced)."
        )
    got = jtu.tree_structure(eqx.filter(model, eqx.is_array))
    ref = jtu.tree_structure(eqx.filter(system0.model, eqx.is_array))
    shapes = [jnp.shape(x) for x in jtu.tree_leaves(eqx.filter(model, eqx.is_array))]
    ref_shapes = [jnp.shape(x) for x in jtu.tree_leaves(eqx.filter(system0.model, eqx.is_array))]
    point = type(model).__name__ != "OneCompartment"  # a cell's per-node arrays are its own
    if got != ref or (any(sh != () for sh in shapes) if point else shapes != ref_shapes):
        raise ValueError(
            f"{caller}: the {want.__name__} given does not have the scalar parameters of the "
            "one this point was computed for (different fields or array parameters); pass "
            "one neuron's model with scalar parameters."
        )
    return model


def fold_of_cycles(model: AbstractModel, near: BifurcationPoint, *, current=None):
    """The parameter value (µA/cm² for the current) of the fold of limit cycles of `model`
    near `near` (a `"fold of cycles"` point of a `CycleContinuation`), differentiable with
    respect to every parameter of `model` (and `current`, when the continuation parameter
    is a model field).

    Newton on the minimally extended system `φ_T(x0) = x0, dV/dt(x0) = 0, s(x0, T, p) = 0`
    (`s` a bordered test function vanishing where `∂G/∂(x0, T)` is singular), from `near`.
    Derivative at the fold: with `w` the left null vector of `∂G/∂(x0, T)`,
    `dp/dθ = −(w·∂G/∂θ)/(w·∂G/∂p)` — the first-order change of the fold's location, with one
    reverse pass through one period. Traceable (NaN under `jax.jit` if Newton fails;
    outside it raises `NoCycleError`).

    When Newton from `near` fails (its first step leaves the basin: HH with g_K moved from
    36 to 36.05 mS/cm²), the fold is followed from `near`'s parameters to these along a
    straight line in substeps (halved on failure, down to 1/64). Measured on HH: g_K 36 →
    36.3 and → 37.05 (fold 6.26 → 7.00 µA/cm²) are reached; lowering g_K by 0.05 is not
    (`NoCycleError`): start from a fold found by `continue_cycle` nearer the parameters.
    """
    if not isinstance(near, CycleBifurcationPoint) or near.kind != "fold of cycles":
        raise TypeError(
            "fold_of_cycles needs a 'fold of cycles' point of a CycleContinuation "
            f"(continue_cycle(...).folds), got {near!r}."
        )
    _require_x64_for_derivatives("fold_of_cycles", model, current)
    system0 = near.system
    model = _check_same_model("fold_of_cycles", model, system0)
    if current is None:
        current = system0.current
    with float64():
        live = _live(system0, model, current, False)
        frozen = _stop(live)
        x0 = np.asarray(system0.flatten(near.state))
        u0 = np.concatenate([x0, [near.period, near.parameter]])
        u, ok, left, g_p = _fold_at(frozen, f64(u0), near.mesh)
        if not _is_traced(ok) and not bool(ok):
            # Newton from the fold of the original parameters overshoots (its first step
            # left the basin: measured for HH with g_K moved by 0.05 mS/cm²): follow the
            # fold from the original parameters to these in substeps instead
            u, ok, left, g_p = _fold_homotopy(system0, frozen, f64(u0), near.mesh)
        _raise_unless(
            ok,
            f"fold_of_cycles: no fold of cycles of {system0.model_name} found near "
            f"{near.parameter:.6g} with these parameters: Newton did not converge.",
        )
        u = jax.lax.stop_gradient(u)
        r = _residual_rev(live, u, f64(near.mesh))  # a scan: reverse-differentiable
        dr = r - jax.lax.stop_gradient(r)
        p = u[-1] - (left @ dr) / (left @ g_p)
        return jnp.where(ok, p, jnp.nan)
