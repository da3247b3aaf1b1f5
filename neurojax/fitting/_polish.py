"""Finishing a float32 Levenberg–Marquardt fit in float64 (`Auto(polish=True)`), and the
stationarity test that decides when it is needed.

Below `_fit` (which calls it); imports `_descent` and `_objective` only."""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from ._descent import LevenbergMarquardt, StageReport, _descend, _Descent
from ._losses import TraceMSE
from ._objective import Objective

POLISH_SE = 1.0
"""`fit`'s stationarity test for a least-squares fit (Levenberg–Marquardt): the
Gauss–Newton step from the returned point, measured in standard errors of the parameters
(`√(n·d²/L)`, `d` the Gauss–Newton decrement `√(rᵀJ(JᵀJ)⁻¹Jᵀr)`, `L = Σr²` the loss,
`n` the number of residuals: the Mahalanobis length of the step under the Fisher
covariance `L/n·(JᵀJ)⁻¹` with the residual's own variance), must be at most this.
At a minimum the step is 0; measured at the end of float32 fits of HH (2-spike sweep,
1 mV noise, 8 draws): 0.02–0.1 standard errors where LM reached the minimum, 5.9 where it
stopped 1.6 % off on its float32 rounding floor (the float64 polish then took it there).
Where it fails on a float32 model, `Auto` polishes in float64."""

POLISH_MIN_LOSS = 0.01
"""mV² (`RESIDUAL_FLOOR`): below this loss the residual of a float32 fit is its own
round-off (noise-free recording; the Gauss–Newton step then predicts the whole residual
away, ~50 standard errors of a residual that is not noise), the parameters are already at
float32's precision (measured: 1e-4 relative, HH, 6–15 µA/cm²) and the polish is not run:
its compilation (~10 s) would buy nothing a 1 % criterion needs; fit in float64
(`jax.config.update("jax_enable_x64", True)` and a float64 model) for more."""


def gauss_newton_standard_errors(loss: float, decrement: float, n_residuals: int) -> float:
    """The length of the Gauss–Newton step in standard errors of the parameters
    (`POLISH_SE`): `√(n·d²/L)`; `inf` where it is not finite."""
    if not (np.isfinite(loss) and np.isfinite(decrement)) or loss <= 0:
        return float("inf") if loss > 0 or not np.isfinite(loss) else 0.0
    return float(np.sqrt(n_residuals * decrement**2 / loss))


def n_residuals(obj: Objective, u) -> int:
    """The length of the residual vector of `obj`: the target's size for a `TraceMSE` on
    one voltage array (what `Auto` checks), else traced (not run)."""
    v = obj.target.v
    if type(obj.loss) is TraceMSE and isinstance(v, jax.Array | np.ndarray):
        return int(np.size(v))
    return int(np.prod(jax.eval_shape(obj.unconstrained_residuals, u).shape))


def _to_float64(x):
    if eqx.is_inexact_array(x) and x.dtype == jnp.float32:
        return x.astype(jnp.float64)
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return x.astype(np.float64)
    return x


def is_float32(obj: Objective) -> bool:
    """Whether the trainable parameters of `obj`'s model are float32 (those `Auto`
    polishes in float64)."""
    leaves = jtu.tree_leaves(obj.params0)
    return bool(leaves) and all(jnp.asarray(p).dtype == jnp.float32 for p in leaves)


def polish_float64(
    obj: Objective,
    optimizer: LevenbergMarquardt,
    u_best: list,
    *,
    steps: int,
    patience,
    rtol: float,
    progress_meter,
    print_every: int,
) -> tuple[_Descent, list, StageReport, float]:
    """Levenberg–Marquardt from `u_best` (one start, unconstrained coordinates) on `obj`
    cast to float64 (every float32 array of the model, inputs, target and constraints,
    under `jax.enable_x64`), then one float32 step at the result: the returned model's
    own loss and decrement. Returns `(descent, starts, report, standard_errors)` —
    the float64 steps followed by the float32 evaluation as one `_Descent` whose best point
    is the float32 result, its start (parameter values, one start), the stage report, and
    the float64 stationarity test at the polished point (`gauss_newton_standard_errors`).
    The caller keeps it only where it lowered the float32 loss (no uphill result)."""
    t0 = time.perf_counter()
    with jax.enable_x64(True):
        obj64 = jtu.tree_map(_to_float64, obj)
        u64 = [jnp.asarray(np.asarray(x, np.float64))[None] for x in u_best]
        d64 = _descend(
            obj64,
            optimizer,
            u64,
            steps=steps,
            patience=patience if patience is not None else 5,
            rtol=rtol,
            progress_meter=progress_meter,
            print_every=print_every,
            label="float64 polish step",
        )
        n_res = n_residuals(obj64, [x[0] for x in u64])
        losses64 = np.stack(d64.losses)[:, 0]
        k = int(np.argmin(np.where(np.isfinite(losses64), losses64, np.inf)))
        se64 = gauss_newton_standard_errors(
            float(losses64[k]), float(np.stack(d64.grad_norms)[k, 0]), n_res
        )
        best64 = [np.asarray(x) for x in d64.best_u]
        history64 = [jtu.tree_map(lambda a: np.asarray(a, np.float32), h) for h in d64.history]
    # back in the caller's precision: one step of the float32 objective at the result, for
    # the returned model's own loss (and decrement); its step itself is not kept
    u32 = [jnp.asarray(x.astype(np.float32)) for x in best64]
    d32 = _descend(
        obj,
        optimizer,
        u32,
        steps=1,
        patience=None,
        rtol=rtol,
        progress_meter=progress_meter,
        print_every=print_every,
        label="float32 check",
    )
    merged = _Descent(
        best_u=u32,
        best_loss=np.asarray(d32.losses[0]),
        losses=[np.asarray(v, np.float32) for v in d64.losses] + d32.losses,
        history=history64 + d32.history,
        n_evaluations=d64.n_evaluations + d32.n_evaluations,
        n_skipped=d64.n_skipped,
        stop_reason=d64.stop_reason,
        grad_norms=[np.asarray(g, np.float32) for g in d64.grad_norms] + d32.grad_norms,
        active=np.ones(1, dtype=bool),
        seconds=d64.seconds + d32.seconds,
        read=d64.read | d32.read,
        gradient_only=d64.gradient_only and d32.gradient_only,
    )
    loss32 = float(d32.losses[0][0])
    report = StageReport(
        name="Float64Polish",
        loss=loss32,
        n_simulations=int(merged.n_evaluations.sum()),
        seconds=time.perf_counter() - t0,
        note=(
            f"{len(d64.losses)} Levenberg–Marquardt steps in float64 ({d64.stop_reason.value}) "
            f"to {float(losses64[k]):.6g}, Gauss–Newton step {se64:.2g} standard errors; "
            f"the float32 model's loss there {loss32:.6g}"
        ),
    )
    starts = [np.asarray(x) for x in jtu.tree_leaves(jax.vmap(obj.from_unconstrained)(u32))]
    return merged, starts, report, se64
