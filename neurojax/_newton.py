"""Newton's method, written once for the whole package.

`root` is the one root finder: the analysis (equilibria, slaved variables, continuation
correctors, shooting for periodic orbits), the models that start at rest
(`neurons._base.newton`, elementwise) and `WongWang.fixed_points` (kept in the unit
square) all call it. It depends on JAX only, so neurons and models import it without an
import cycle through `neurojax.analysis`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

REFRESH = 0.25
"""With `reuse=True`, the Jacobian is recomputed when a step shrinks by less than this
factor on the previous one (the chord iteration contracts too slowly)."""


def root(
    fun: Callable[[Array], Array],
    x0: Array,
    *,
    rtol: float,
    max_steps: int,
    elementwise: bool = False,
    jac0: Array | None = None,
    reuse: bool = False,
    project: Callable[[Array], Array] | None = None,
    jacobian: Callable[[Array], tuple[Array, Array]] | None = None,
    aux0=None,
):
    """Newton's method on `fun(x) = 0` from `x0`, stopped once a step is below
    `rtol·(1 + max|x|)`. Returns `(x, converged, steps)`; never raises (`converged` is
    False after `max_steps`, on a singular Jacobian or a non-finite value). Traceable and
    `vmap`-able; no gradient should be taken through it (see `neurons._base.newton` for
    the implicit-function derivative at the root).

    - `elementwise`: `fun` acts elementwise on an array `x` of any shape (each output
      depends only on the same element of `x`): the derivative is one forward-mode JVP with
      a unit tangent, and where it is 0 the element stays put instead of becoming inf.
      Otherwise `x` is a vector and the Jacobian is dense (forward-mode autodiff).
    - `jac0`: a Jacobian to start with (dense case), e.g. the one at the previous point of
      a continuation; `reuse`: keep a Jacobian while the steps contract by at least
      `REFRESH` each (Broyden's rank-one update after each step: one evaluation of `fun`
      per step instead of a Jacobian), recomputing it at the current iterate otherwise.
      Same root, same stopping rule (a step that contracted by < `REFRESH` leaves an error
      below a third of it); for a shooting residual (an integration over one period) a
      Jacobian costs ~7 residuals.
    - `project`: applied to every iterate (e.g. a clip to a feasible box).
    - `jacobian`: `x ↦ (∂fun/∂x, fun(x))` computed by the caller (dense case), for a
      Jacobian with a structure forward-mode autodiff of `fun` would not exploit (the
      multiple-shooting corrector of `analysis._periodic`: one vmapped pass over the
      segments instead of one tangent per unknown). Default: forward-mode autodiff.
    - `aux0` (with `jacobian`, dense case without `jac0`/`reuse`): `jacobian` returns
      `(∂fun/∂x, fun(x), aux)`, and `root` returns `(x, converged, steps, aux)`, `aux` from
      the last Jacobian evaluated (at the iterate the last step started from; `aux0`, a
      pytree of the same structure, if no step was taken). What a caller needs from that
      evaluation besides the step (the shooting corrector's monodromy factors) then costs
      no second copy of it in the compiled program.

    Why not `optimistix.root_find`: it gives the same roots, but each call site compiled
    ~0.3-0.7 s (CPU) longer than this loop, and optimistix is no runtime dependency.
    """
    keep = (lambda x: x) if project is None else project

    def small(dx, x):
        return jnp.max(jnp.abs(dx)) <= rtol * (1.0 + jnp.max(jnp.abs(x)))

    def finite(x):
        return jnp.all(jnp.isfinite(x))

    def iterate(newton_step):
        """Newton iterations `x ← keep(x − newton_step(x))` until the step is small, the
        iterate non-finite or `max_steps` spent: `(x, converged, steps)`."""

        def step(carry):
            k, x, _ = carry
            new = keep(x - newton_step(x))
            return k + 1, new, new - x

        def going(carry):
            k, x, dx = carry
            return (k < max_steps) & ~small(dx, x) & finite(x)

        k, x, dx = jax.lax.while_loop(going, step, (0, x0, jnp.full_like(x0, jnp.inf)))
        return x, small(dx, x) & finite(x), k

    if elementwise:

        def newton_step(x):
            fx, dfx = jax.jvp(fun, (x,), (jnp.ones_like(x),))
            nonzero = dfx != 0
            return jnp.where(nonzero, fx / jnp.where(nonzero, dfx, 1.0), 0.0)

        return iterate(newton_step)

    def both(x):
        y = fun(x)
        return y, y

    def autodiff_jacobian(x):
        # the value from the Jacobian's primal pass: one evaluation of `fun` per step (for
        # a periodic orbit, one integration over the period instead of two)
        return jax.jacfwd(both, has_aux=True)(x)

    if jacobian is None:
        jacobian = autodiff_jacobian

    if aux0 is not None:
        if jacobian is autodiff_jacobian or reuse or jac0 is not None:
            raise ValueError("root(aux0=...) needs jacobian= and neither reuse nor jac0.")

        def step_aux(carry):
            k, x, _, _ = carry
            jac, val, aux = jacobian(x)
            new = keep(x - jnp.linalg.solve(jac, val))
            return k + 1, new, new - x, aux

        def going_aux(carry):
            k, x, dx, _ = carry
            return (k < max_steps) & ~small(dx, x) & finite(x)

        init = (0, x0, jnp.full_like(x0, jnp.inf), aux0)
        k, x, dx, aux = jax.lax.while_loop(going_aux, step_aux, init)
        return x, small(dx, x) & finite(x), k, aux

    if not reuse and jac0 is None:

        def newton_step(x):
            jac, val = jacobian(x)
            return jnp.linalg.solve(jac, val)

        return iterate(newton_step)

    def step(carry):
        k, x, dx_prev, jac, val_prev = carry
        # the Jacobian in hand (`jac0`, or one from an earlier iterate, Broyden-updated
        # with each step taken) is kept while the steps contract by REFRESH (with
        # `reuse`); otherwise a fresh one at `x`
        val = fun(x)
        s = dx_prev
        ok_s = (k > 0) & jnp.all(jnp.isfinite(s)) & (s @ s > 0)
        upd = jnp.outer(val - val_prev - jac @ s, s) / jnp.where(ok_s, s @ s, 1.0)
        jac = jnp.where(ok_s & reuse, jac + upd, jac)
        dx_old = jnp.linalg.solve(jac, val)
        slow = jnp.max(jnp.abs(dx_old)) > REFRESH * jnp.max(jnp.abs(dx_prev))
        redo = slow | ~finite(dx_old) | ((k > 0) & (not reuse))

        def refreshed():
            jac_new, val_new = jacobian(x)
            return jnp.linalg.solve(jac_new, val_new), jac_new

        dx, jac = jax.lax.cond(redo, refreshed, lambda: (dx_old, jac))
        new = keep(x - dx)
        return k + 1, new, new - x, jac, val

    def going(carry):
        k, x, dx = carry[:3]
        return (k < max_steps) & ~small(dx, x) & finite(x)

    jac_start = jacobian(x0)[0] if jac0 is None else jac0
    init = (0, x0, jnp.full_like(x0, jnp.inf), jac_start, jnp.zeros_like(x0))
    k, x, dx, _, _ = jax.lax.while_loop(going, step, init)
    return x, small(dx, x) & finite(x), k
