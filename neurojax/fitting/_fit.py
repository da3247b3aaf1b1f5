"""`fit`: gradient-based fitting of model parameters to recorded traces."""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optax
from jaxtyping import ArrayLike, PRNGKeyArray

from .._adjoint import AbstractAdjoint
from .._errors import check_instance
from .._model import AbstractModel
from .._progress import AbstractProgressMeter, TextProgress
from .._saveat import SaveAt
from ..solvers import AbstractSolver
from ..stimuli import AbstractStimulus
from ._checks import check_number
from ._data_driven import noise_sd
from ._descent import (
    MAX_LM_PARAMETERS,
    Cull,
    FitStep,
    LevenbergMarquardt,
    StageReport,
    StopReason,
    _adam,
    _converged,
    _descend,
    _lbfgs,
    _sample_starts,
    _strong,
)
from ._losses import AbstractLoss, TraceMSE, loss_requires
from ._objective import Objective, make_objective
from ._polish import (
    POLISH_MIN_LOSS,
    POLISH_SE,
    gauss_newton_standard_errors,
    is_float32,
    n_residuals,
    polish_float64,
)
from ._strategies import (
    DEFAULT_STRATEGY,
    AbstractStrategy,
    Auto,
    Plain,
    _Context,
    _losses_of,
    _restart,
    _starts_of,
    _StrategyState,
)

RESIDUAL_FACTOR = 2.0
"""`fit`'s default (`Auto`) checks its result against the recording's own noise: a final
`TraceMSE` above `RESIDUAL_FACTOR·σ̂² + RESIDUAL_FLOOR` (σ̂: `noise_sd` of the target) is
not explained by the model — for white noise the loss at the true parameters is σ² ± a
few per cent (2400 samples: 3 %) — so `Auto` restarts the descent from the data-driven
estimate's uncertainty (`Restarts`), and where that finds nothing lower the fit says
`StopReason.ABOVE_NOISE`, `converged=False`, and warns (a local minimum, or a model that
cannot produce the recording). A global search from the minimum instead (CMA-ES,
σ = 0.5, 960 simulations) did not leave it (HH, 2 spikes, 1 mV noise).

Was 4 until session 11: the held-out probe (`validation/fit_heldout_probe.py`, HH at dt
0.01, a 6 µA/cm² step, 1 mV) ended in a local minimum 21 % off at 2.73 mV² (σ̂² 1.01,
the truth's loss 1.04), under 4·σ̂², and said `converged`; its residual was spread over
the whole trace (robust scale² 2.34 mV²), so `RESIDUAL_SHAPE_FACTOR` does not see it.
The largest loss of a converged HH fit at 1 mV in `docs/fit_success_rates.json` is 1.052
mV² (100 fits; σ̂ 0.95–1.03 mV). A recording whose noise is not white (its variance
more than twice its white part's, which second differences measure) is reported
`ABOVE_NOISE` too: said, not silent."""

RESIDUAL_FLOOR = 0.01
"""mV²: the residual allowed on a noise-free recording (0.1 mV rms)."""


def _noise_floor(obj) -> float | None:
    """σ̂² of the target (mV²) where `fit` checks its result against it: a plain
    `TraceMSE` loss and a voltage target array, whatever the strategy (only `Auto`
    restarts; held-out check: AdEx `a, b, tau_w` with `GlobalSearch()` stopped at
    12 mV² on a recording with 0.25 mV² of noise, 34 % off, and said `converged`);
    `None` elsewhere."""
    if type(obj.loss) is not TraceMSE:
        return None
    v = obj.target.v
    if not isinstance(v, jax.Array | np.ndarray):
        return None
    w = _weights_of(obj, v.shape)
    if w is False:
        return None
    if w is not None:
        # σ̂ from the samples the loss reads (a zero weight: padding, a gap): the second
        # differences touching the others are NaN and dropped by `noise_sd`. The
        # weighted mean square at the truth is still σ² (`Σ w r² / Σ w`). Was `None`
        # with any weights (held-out probe, session 13: sweeps of different lengths,
        # the short one padded and weighted 0, stopped at 644 mV², "converged").
        v = np.where(w > 0, np.asarray(v, dtype=float), np.nan)
        d2 = v[2:] - 2 * v[1:-1] + v[:-2]
        if int(np.isfinite(d2).sum()) < MIN_NOISE_SAMPLES:
            # too few runs of three read samples (every other row weighted 0): σ̂ is
            # not measurable, no check (it returned 0 mV² and ABOVE_NOISE)
            return None
    return noise_sd(v) ** 2


MIN_NOISE_SAMPLES = 50
"""Second differences of weighted (read) samples needed to estimate σ̂ for the noise
check when `TraceMSE` has weights: fewer, and the fit is not checked against the noise
(the robust scale of 50 samples is within ± ~20 %, below the `RESIDUAL_FACTOR` of 2)."""


def _weights_of(obj, shape):
    """The `TraceMSE` weights of `obj` broadcast to `shape` (a NumPy array); `None`
    without weights; `False` where they are traced."""
    w = obj.loss.weights
    if w is None:
        return None
    if isinstance(w, jax.core.Tracer):
        return False
    return np.broadcast_to(np.asarray(w, dtype=float), shape)


def default_optimizer(
    loss=None, steps: int = 500, learning_rate: float = 0.05, n_parameters: int | None = None
) -> optax.GradientTransformation | LevenbergMarquardt:
    """The optimiser `fit` uses when none is given.

    - `LevenbergMarquardt()` when the loss is a sum of squares of voltages (`TraceMSE`,
      `RestingPotential` and their weighted sums: `AbstractLoss.residuals`) and there are
      at most `MAX_LM_PARAMETERS` (32) scalar parameters (`n_parameters`; unknown counts
      as few): Gauss–Newton curvature follows the narrow valleys of spiking traces where
      L-BFGS stalls (HH, 2-spike sweep, 1 mV noise, from the data-driven estimate:
      L-BFGS stopped 4–7 % away, LM reached the noise floor).
    - L-BFGS (`optax.lbfgs` with a backtracking line search) when the loss only compares voltages
      (`TraceMSE`, `RestingPotential`, `SpikeAmplitude` and their sums): the gradient is
      exact and the problem smooth, and L-BFGS converges in tens of steps where Adam needs
      thousands (HH conductances: 1e-8 relative error in ~20 steps).
    - Adam (Kingma & Ba 2015), step size decaying from `learning_rate` to 1 % along a
      cosine over `steps`, for anything involving spikes: surrogate gradients are not the
      gradient of the (piecewise-constant) loss, so a line search would stall. In the
      normalised coordinates of the constraints `learning_rate` is about the relative
      change of a parameter per step.

    The same arguments return the same object, so repeated fits reuse the compiled step.
    """
    loss = loss if loss is not None else TraceMSE()
    few = n_parameters is None or n_parameters <= MAX_LM_PARAMETERS
    if few and _least_squares(loss):
        return LevenbergMarquardt()
    if _voltage_only(loss):
        return _lbfgs()
    return _adam(max(int(steps), 1), float(learning_rate))


def _least_squares(loss) -> bool:
    """Whether `loss` is a sum of squares: every term defines `residuals` and every
    weight is >= 0."""
    if not isinstance(loss, AbstractLoss) or not _voltage_only(loss):
        return False
    return all(w >= 0 and type(t).residuals is not AbstractLoss.residuals for w, t in loss.terms())


def _settled(d, obj) -> bool:
    """Whether a descent claims a minimum, so that the noise check applies: it stopped
    there (`FLOOR`, `PATIENCE`), or it ran out of steps but `_converged` would call it
    converged (held-out check: LIF `tau, r` by `optax.adam(0.5)` on a noise-free trace
    stopped by `steps` at 23 mV², oscillating, and said `converged`)."""
    if d.stop_reason in (StopReason.FLOOR, StopReason.PATIENCE):
        return True
    best = np.where(np.isfinite(d.best_loss), d.best_loss, np.inf)
    b = int(np.argmin(best))
    return _converged(
        np.stack(d.losses)[:, b],
        np.stack(d.grad_norms)[:, b],
        d.stop_reason,
        surrogate=_uses_spikes(obj.loss),
    )


RESIDUAL_SHAPE_FACTOR = 1.5
"""`fit`'s noise check also reads the residual's shape: where the final loss (the mean
square residual, over `RESIDUAL_FLOOR`) exceeds this times the square of its robust
scale `(1.4826·median|r|)²` (equal to it for Gaussian noise, white or not: 1 ± 3 % for
6000 samples), a part of the residual is concentrated in few samples — a spike a step or
more from the recorded one — and the fit is `ABOVE_NOISE`, not converged. Held-out
probe (`validation/fit_heldout_probe.py`): HH at dt 0.01, a 6 µA/cm² step, 1 mV: a
local minimum 21 % off at 2.73 mV² (the truth's 1.04) was under the `RESIDUAL_FACTOR`
limit (4·σ̂²) and said `converged`."""


def _above_noise(obj, d, limit) -> tuple[bool, tuple[float, float] | None]:
    """`(above the noise, shape)` for the descent `d`, checked only where it claims a
    minimum (`_settled`; a fit cut short is not converged anyway) and `limit` (mV²) is
    known: its best loss above `limit`, or a residual that is not noise
    (`_structured_residual`, whose `(mean square, robust square)` is `shape`)."""
    if limit is None or not _settled(d, obj):
        return False, None
    if float(np.min(d.best_loss)) > limit:
        return True, None
    shape = _structured_residual(obj, d)
    return shape is not None, shape


def _structured_residual(obj, d) -> tuple[float, float] | None:
    """`(mean square, robust square)` of the residual at the best point of `d` where the
    loss is above `RESIDUAL_FLOOR` and the ratio above `RESIDUAL_SHAPE_FACTOR` (see
    there), else `None`. For a plain `TraceMSE` on a voltage array (`_noise_floor`)."""
    b = int(np.argmin(np.where(np.isfinite(d.best_loss), d.best_loss, np.inf)))
    if not float(d.best_loss[b]) > RESIDUAL_FLOOR or obj.loss.window is not None:
        return None
    params = obj.from_unconstrained([jnp.asarray(x[b]) for x in d.best_u])
    r = np.asarray(obj.prediction(params).v, dtype=float) - np.asarray(obj.target.v, float)
    w = _weights_of(obj, r.shape)
    if w is not None:
        # the samples the loss reads; unequal positive weights make the shape test (an
        # unweighted robust scale) meaningless: skipped
        if w is False or np.ptp(w[w > 0]) > 0:
            return None
        r = r[w > 0]
    r = r[np.isfinite(r)]
    if r.size == 0:
        return None
    ms, robust = float(np.mean(r**2)), float((1.4826 * np.median(np.abs(r))) ** 2)
    return (ms, robust) if ms > RESIDUAL_SHAPE_FACTOR * robust else None


def _edge_test(obj, d) -> tuple[bool, tuple]:
    """`edge_stationarity` at the best point of the descent `d`: `(passed, stage
    reports)`; passed where the Gauss–Newton step under the spike-time constraints is at
    most `POLISH_SE` standard errors and the unconstrained step, which crosses the edge,
    does not lower the free loss. `(False, ())` where the test does not apply."""
    from ._spike_clamp import edge_stationarity

    t0 = time.perf_counter()
    b = int(np.argmin(np.where(np.isfinite(d.best_loss), d.best_loss, np.inf)))
    params = obj.from_unconstrained([jnp.asarray(x[b]) for x in d.best_u])
    try:
        e = edge_stationarity(obj, params)
    except (FloatingPointError, np.linalg.LinAlgError, ValueError) as err:
        return False, (
            StageReport(
                name="EdgeStationarity",
                loss=float(d.best_loss[b]),
                n_simulations=0,
                seconds=time.perf_counter() - t0,
                note=f"failed: {str(err)[:120]}; not certified",
            ),
        )
    if e is None:
        return False, ()
    passed = bool(e["se"] <= POLISH_SE and not e["loss_across"] < e["loss"])
    return passed, (
        StageReport(
            name="EdgeStationarity",
            loss=e["loss"],
            n_simulations=e["n_simulations"],
            seconds=time.perf_counter() - t0,
            note=e["note"] + ("; a constrained minimum" if passed else "; not a minimum"),
        ),
    )


def _uses_spikes(loss) -> bool:
    """Whether a loss reads spikes (its gradient is the surrogate's): `converged` then
    trusts only the loss, not the gradient (`_converged`). A plain function (not an
    `AbstractLoss`) is taken as differentiable."""
    return isinstance(loss, AbstractLoss) and "spikes" in set(loss_requires(loss))


def _voltage_only(loss) -> bool:
    if not isinstance(loss, AbstractLoss):
        return False
    requires = set(loss_requires(loss))
    return bool(requires) and requires <= {"v"}


class _AutoPatience:
    """The type of `AUTO_PATIENCE`, `fit`'s default `patience`."""

    def __repr__(self):
        return "AUTO_PATIENCE"


AUTO_PATIENCE = _AutoPatience()
"""`fit(patience=AUTO_PATIENCE)` (the default): for the default L-BFGS, early stopping
after 5 steps in which neither the best loss nor the loss of the previous step improved
(by a relative `rtol`; the latter counts at most 20 times per fit) — so L-BFGS
recovering from an overshooting first step (its first step is an unscaled gradient step;
from a start already near the minimum, such as the data-driven estimate, it can overshoot
and need ~10 steps to get back) is not cut short;
none for any other optimiser."""


@dataclasses.dataclass(frozen=True, repr=False)
class FitResult:
    """The outcome of `neurojax.fit`.

    - `model`: the model with the best parameters found (lowest loss of all steps and starts).
    - `params`: those parameter values, structured like `trainable(model)`.
    - `loss`: the loss at `params`.
    - `losses`: loss per step of the best start, `(n_steps,)`; `all_losses`:
      `(n_steps, n_starts)`. The loss at step `k` is evaluated before the `k`-th update.
    - `param_history`: parameter values at each step of the best start (leading axis
      `n_steps`); `all_param_history`: leading axes `(n_steps, n_starts)`.
    - `initial_params`: the initial values of every start (leading axis `n_starts`;
      start 0 is the model as given).
    - `best_step`: the step of `losses` / `param_history` at which `params` was evaluated
      (`losses[best_step] == loss`; later steps may be uphill of it, e.g. a last update
      that was rejected by the line search: they are never the result).
    - `best_start`, `n_steps` (optimisation steps done = gradient evaluations for a
      first-order optimiser), `stop_reason` (a `StopReason`: `STEPS`, `PATIENCE`,
      `TARGET_LOSS`, `CALLBACK`, `INTERRUPTED`, `FLOOR` (Levenberg–Marquardt's), or
      `NO_IMPROVEMENT` when no start ever went below its initial loss, so the result is
      the start; `ABOVE_NOISE` when the noise check failed — a plain `TraceMSE` on a
      voltage target ending above `RESIDUAL_FACTOR·σ̂² + RESIDUAL_FLOOR`, whatever the
      strategy; with `Auto` even after its `Restarts`), `n_skipped` (steps whose loss
      or gradient was not finite: the update was skipped), `n_evaluations`
      (loss-and-gradient evaluations, each one simulation with its derivative, summed
      over starts; more than `n_steps` for a line search), `objective` (the `Objective`
      that was minimised), `seconds` (wall time of the whole fit, all stages, including
      compilation).
    - `start_losses`: `(n_starts,)`, the lowest loss each start reached in the final
      gradient stage (`inf` for a start that never had a finite loss).
    - `converged`: `True` if the fit reached `target_loss`, or if the best start went
      below its initial loss, its best loss improved by less than `CONVERGED_RTOL`
      (1e-4) of itself or of the fit's whole gain over the last `max(5, n_steps // 10)`
      steps, and the
      gradient at the result is at most `CONVERGED_GTOL` (0.1) times the gradient at its
      start, or its loss at most 0.01 times the start's (stationarity; for a loss on
      spikes, whose gradient is the surrogate's, only the latter). A fit cut short
      by `steps`, a callback or Ctrl-C while still improving is not converged, nor is one
      that never improved on its start (`StopReason.NO_IMPROVEMENT`). The noise check
      (`ABOVE_NOISE`) also applies with `TraceMSE(weights=...)`, reading the samples of
      positive weight (`MIN_NOISE_SAMPLES`).
    - `grad_norms`: the gradient norm (unconstrained coordinates) at each step of the
      best start, `(n_steps,)`.
    - `strategy`: the strategy object used (`Auto()` resolved to what it chose is in
      `stages`); `stages`: one `StageReport` per stage (name, best loss after it,
      simulations it spent, seconds, a note); `n_simulations`: simulations spent in all
      (a loss-and-gradient evaluation counts one, whatever the gradient mode; a CMA-ES
      candidate one; the data-driven estimate one per iteration of its consistency with
      the solver, plus one to report its loss); `culled`: `(n_starts,)` bools, starts
      frozen by `cull`;
      `start_params`: the best point of each start (structured like `params`, leading
      axis `n_starts`).
    - `unread`: names (`Objective.names`) of the trainables the loss does not read: their
      gradient (for Levenberg–Marquardt: their columns of the residuals' Jacobian) was
      exactly 0, every component, at every point the final gradient stage evaluated
      (with its restarts and float64 polish), while that of the others was not — or that
      of every trainable, with a loss above 0 (then all are named, and the fit is not
      converged: nothing was fitted). They are **not fitted** (their value is their
      start, or a strategy's) and `fit` warns once; `converged` speaks for the others.
      Examples: a spike threshold `v_th` under `TraceMSE` (it only detects spikes),
      `t_ref` (whole steps). A parameter with a
      non-zero gradient that does not move (float32 steps rounding to 0 at its optimum)
      is not named. Where every gradient was 0 at a loss of exactly 0 (a noise-free start
      at the truth, by a gradient optimiser) nothing can be told and nothing is named.
    - `restart_rounds`: rounds of `Auto`'s `Restarts` that ran (0: the descent from the
      estimate settled at the noise level, or no check applied). Where a restart won,
      the descent arrays above (`losses`, `all_losses`, `initial_params`,
      `start_losses`, …) are those of the winning round's descent (`Restarts.polished`
      starts), so the history is the returned model's; the stage `"Restarts"` in
      `stages` says what was done.
    - Where `Auto`'s stationarity test failed on a float32 Levenberg–Marquardt fit (a
      Gauss–Newton step longer than `POLISH_SE` standard errors: its rounding floor) and
      the float64 polish lowered the float32 loss, the stage `"Float64Polish"` follows,
      and the descent arrays are the polish's: its float64 steps, then one row for the
      returned float32 model (`best_step`, `losses[best_step] == loss`). `converged`
      then also needs the test to pass at the float64 minimum; a fit that fails it
      unpolished (`Auto(polish=False)`, a float64 model) is not converged — unless,
      for a reset model fitted by its trace MSE, the constrained form of the test
      passes (stage `"EdgeStationarity"`, `_spike_clamp.edge_stationarity`): the
      least-squares point inside the recorded spike train can lie on its edge (a spike
      about to move by a step), where the Gauss–Newton step under the linearised
      spike-time constraints, not the unconstrained one, must be ≤ `POLISH_SE`
      standard errors, the free model must fire at the recorded steps, and crossing the
      edge must not lower the free loss.
    """

    model: AbstractModel
    params: Any
    loss: float
    losses: np.ndarray
    all_losses: np.ndarray
    param_history: Any
    all_param_history: Any
    initial_params: Any
    best_start: int
    n_steps: int
    stop_reason: StopReason
    n_skipped: int
    n_evaluations: int
    objective: Objective
    seconds: float
    start_losses: np.ndarray | None = None
    converged: bool = False
    strategy: Any = None
    stages: tuple = ()
    n_simulations: int = 0
    culled: np.ndarray | None = None
    start_params: Any = None
    best_step: int = 0
    grad_norms: np.ndarray | None = None
    restart_rounds: int = 0
    unread: tuple[str, ...] = ()

    def identifiability(self, **kw):
        """How well the data constrain each fitted parameter, at the fitted values
        (Fisher information / Jacobian of the prediction): see
        `neurojax.fitting._identifiability.identifiability` for the arguments."""
        from ._identifiability import identifiability

        return identifiability(self.objective, self.params, **kw)

    def __repr__(self):
        vals = ", ".join(
            np.array2string(np.asarray(p), precision=5) for p in jtu.tree_leaves(self.params)
        )
        return (
            f"FitResult(loss={self.loss:.4g}, params=({vals}), n_steps={self.n_steps}, "
            f"n_starts={self.all_losses.shape[1]}, best_start={self.best_start}, "
            f"stop_reason={self.stop_reason!r}, converged={self.converged}, "
            + (f"unread={self.unread}, " if self.unread else "")
            + f"n_simulations={self.n_simulations})"
        )


def _float_leaves_to_arrays(model, trainable):
    """`eqx.tree_at(lambda m: m.g_na, model, 168.0)` leaves a Python float in the model;
    selected Python floats become arrays (of the model's other parameters' float dtype, or
    the default) so they can be fitted."""
    if not callable(trainable):
        return model
    try:
        selected = trainable(model)
    except Exception:  # make_objective reports a bad trainable
        return model
    leaves = jtu.tree_leaves(selected)
    is_num = lambda x: isinstance(x, (float, int)) and not isinstance(x, bool)  # noqa: E731
    idx = [i for i, x in enumerate(leaves) if is_num(x)]
    if not idx:
        return model
    dtypes = [x.dtype for x in jtu.tree_leaves(model) if eqx.is_inexact_array(x)]
    dtype = dtypes[0] if dtypes else jnp.result_type(float)

    def where(m):  # by position: eqx.tree_at needs a structure-only selection
        found = jtu.tree_leaves(trainable(m))
        return tuple(found[i] for i in idx)

    new = tuple(jnp.asarray(leaves[i], dtype=dtype) for i in idx)
    try:
        return eqx.tree_at(where, model, new)
    except (ValueError, TypeError):
        return model


def _check_loss_reads_params(obj: Objective):
    """Trace the loss at the start (no compilation) and return its output's shape/dtype;
    raise if a selected parameter does not reach the loss at all (dead-code elimination
    of the traced program): such a leaf would stay at its start with a zero gradient and
    the fit would report it as fitted. Held-out check: a `Network` projection's `delay`
    set by `eqx.tree_at` after construction is never read (the network counts delays in
    whole steps when it is built), and `fit` returned the start."""
    closed = jax.make_jaxpr(obj)(obj.params0)
    try:  # a private JAX helper: without it, skip the check (never a false error)
        from jax._src.interpreters import partial_eval as pe

        _, used = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    except Exception:  # pragma: no cover - JAX internals moved
        used = None
    if used is not None:
        if len(used) == len(jtu.tree_leaves(obj.params0)):  # one input per parameter leaf
            unused = [n for n, u in zip(obj.names, used, strict=True) if not u]
            if unused:
                raise ValueError(
                    f"trainable parameter(s) {', '.join(unused)} do not affect the loss: the "
                    "simulation never reads them (a field fixed when the model was built, "
                    "such as a Network projection's delay, counted in whole steps at "
                    "construction: rebuild the model to change it; or a parameter of a "
                    "part the recording does not depend on). Remove them from trainable."
                )
    return closed.out_avals[0]


def _unread(obj: Objective, descents, loss: float) -> tuple[tuple[str, ...], bool]:
    """`(names, all)`: the trainable leaves whose gradient (Levenberg–Marquardt: Jacobian
    column) was exactly 0, every component, at every point any of `descents` evaluated
    (`_Descent.read`), and whether that is every leaf. Not the withdrawn test "never
    moved from its start" (session 13): in float32 a parameter starting at its optimum
    takes steps that round to 0 although its gradient is not 0 (AdEx started at the
    truth). Gradients are all 0 at an exact zero-residual minimum (a noise-free start at
    the truth), read or not: where every leaf's gradient was 0 and the loss is 0,
    nothing is flagged (a Jacobian still tells, and is used)."""
    reads = [d.read for d in descents if d.read is not None]
    if not reads or len(reads[0]) != len(obj.names):
        return (), False
    read = np.logical_or.reduce(reads)
    if read.all():
        return (), False
    all_zero = not read.any()
    if all_zero and all(d.gradient_only for d in descents) and loss == 0.0:
        return (), False
    return tuple(n for n, r in zip(obj.names, read, strict=True) if not r), all_zero


def _warn_unread(names, all_zero: bool, n_steps: int) -> None:
    what = (
        "for every trainable — the loss depends on none of them there"
        if all_zero
        else "while the loss depends on the others"
    )
    warnings.warn(
        f"fit: the gradient of the loss with respect to {', '.join(names)} was exactly 0 at "
        f"every point the fit evaluated ({n_steps} step(s) of the final gradient stage), "
        f"{what}: the loss never reads {'them' if len(names) > 1 else 'it'} (a spike "
        "threshold v_th under a loss on the voltage trace), or reads it only where it has "
        "no effect (a parameter acting in whole steps such as t_ref or a delay; one "
        "without effect under these inputs). Not fitted: the value returned is its start "
        "(or a strategy's); FitResult.unread names it. Remove it from trainable, or "
        "choose a loss that reads it (SpikeCount, VanRossum, Latency for v_th).",
        stacklevel=3,
    )


def _n_starts_of(starts, n_starts):
    return n_starts if starts is None else int(starts[0].shape[0])


def _given_starts(obj: Objective, starts, n_starts: int):
    """`starts` (structured like `trainable(model)`, leading start axis) as a list of
    arrays per selected leaf, checked against the selection."""
    if starts is None:
        return None
    leaves, treedef = jtu.tree_flatten(starts)
    if treedef != obj.treedef:
        raise ValueError(
            f"starts must be structured like trainable(model) ({obj.treedef}) with a leading "
            f"start axis on every leaf; got {treedef}."
        )
    out = []
    n = None
    for i, (x, p) in enumerate(zip(leaves, jtu.tree_leaves(obj.params0), strict=True)):
        x = jnp.asarray(x, dtype=jnp.result_type(p))
        if x.shape[1:] != jnp.shape(p) or x.ndim != jnp.ndim(p) + 1:
            raise ValueError(
                f"starts item {i} has shape {x.shape}; expected (n_starts, *{jnp.shape(p)})."
            )
        if n is not None and x.shape[0] != n:
            raise ValueError("every starts item needs the same number of starts (axis 0).")
        n = x.shape[0]
        out.append(x)
    if n_starts != 1 and n != n_starts:
        raise ValueError(f"starts holds {n} starts but n_starts={n_starts}; omit n_starts.")
    return out


def fit(
    model: AbstractModel,
    inputs: ArrayLike | AbstractStimulus,
    target,
    *,
    dt: float,
    trainable: Callable,
    loss: Callable | None = None,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 500,
    constraints=None,
    solver: AbstractSolver | None = None,
    saveat: SaveAt = SaveAt(),
    adjoint: AbstractAdjoint | None = None,
    t0: float = 0.0,
    n_starts: int = 1,
    key: PRNGKeyArray | None = None,
    init_spread: float = 2.0,
    patience: int | None | _AutoPatience = AUTO_PATIENCE,
    rtol: float = 1e-6,
    target_loss: float | None = None,
    strategy=DEFAULT_STRATEGY,
    cull: Cull | None = None,
    starts=None,
    progress_meter: AbstractProgressMeter = TextProgress(),
    print_every: int | None = None,
    callback: Callable[[FitStep], bool | None] | None = None,
    simulation_key: PRNGKeyArray | None = None,
) -> FitResult:
    """Fit the `trainable` parameters of `model` so that `simulate(model, inputs)` matches
    `target`, by gradient descent through the simulation.

    **Arguments**

    - `model`: any neurojax model; its values of the trainable parameters are the initial
      guess, all other parameters stay fixed.
    - `inputs`: whatever `simulate(model, inputs)` takes, checked as it checks them
      (a leading `n_steps` axis on every array, finite): for a point neuron the injected
      current `(n_steps, *batch)` (µA/cm² for HH-type models, nA for integrate-and-fire
      models) or a stimulus — a patch-clamp protocol of several current steps is
      `(n_steps, n_sweeps)`, fitted at once; for a `cable.Cell` its currents, or a dict
      `{"i_clamp": nA, "g_syn": µS, "v_clamp": mV}`; for a `Network` a dict
      `{population: current or spike counts}`.
    - `target`: what to match, sampled like what the simulation records (row `i` after
      step `(i + 1)·saveat.every`): the voltage (mV, shaped like `Solution.v`; a dict
      `{population: v}` for a network, any subset of its populations), or what
      `saveat=SaveAt(fn=...)` records (`cell.record_v(sites)`,
      `network.record(v={"E": slice(0, 10)})`, any array or pytree), a `Solution`, or a
      `neurojax.fitting.Recording` (recorded trace and/or spike counts; a network's spikes
      as `{population: spikes}`). Its shape is checked against the simulation's (traced,
      not run). Several recorded arrays are compared as one, each reshaped to
      `(n_rows, -1)` and concatenated (`flatten_record`).
    - `dt`: time step, ms.
    - `trainable`: selects the fitted parameters the equinox way,
      `lambda m: (m.g_na, m.g_k, m.g_l)`.
    - `loss`: a loss object (default `TraceMSE()`), e.g. `TraceMSE() + 2.0 * SpikeCount()`,
      or any function `(pred, target) -> scalar` of two `Recording`s.
    - `optimizer`: an optax optimiser acting on the unconstrained coordinates. Default
      (`default_optimizer`): L-BFGS when the loss only compares voltages, Adam with a
      cosine-decaying step (0.05 → 0.0005) when it involves spikes. Line-search optimisers
      such as `optax.lbfgs()` work: `fit` passes them `value`, `grad` and `value_fn`.
    - `steps`: maximum number of optimisation steps (of the final gradient stage).
    - `constraints`: keep parameters physical by reparametrisation: one constraint for all
      (`Positive()`), or a tuple aligned with `trainable` (`(Positive(), Bounded(0, 1))`,
      `None` entries take the default). Default: `Positive()` for parameters whose initial
      value is > 0 (conductances, time constants), `Unconstrained()` otherwise. The
      optimiser moves unconstrained coordinates, so no step size can break a constraint.
    - `solver`, `t0`: passed to `simulate`; `saveat`: `SaveAt(every=k)` compares every
      k-th step; `SaveAt(fn=...)` compares what `fn` records (the losses on `v` —
      `TraceMSE`, … — then read that record); spikes are kept unless
      `SaveAt(spikes=False)`.
    - `adjoint`: how the gradient is computed — `ForwardMode()` (one tangent per
      trainable scalar, no memory per time step), `CheckpointAdjoint(every=...)` (reverse
      mode, √n checkpointing above 10⁴ steps by default) or `DirectAdjoint()`. `None`
      (default): forward mode for up to 16 trainable scalars of a point neuron (one
      batched JVP: HH, 7 parameters, 0.84 ms against 1.2 ms for reverse mode) and up to 3
      of a multicompartment cell, checkpointed reverse mode otherwise.
    - `n_starts`, `key`, `init_spread`: multi-start. Start 0 is `model`'s values (or the
      strategy's best point); the other `n_starts − 1` are drawn with `key` around them
      (log-uniform within a factor `init_spread` for `Positive`, uniform over the range
      for `Bounded`, within `±(init_spread − 1)·|p₀|` for `Unconstrained`), and all are
      optimised in parallel (`jax.vmap`). The best is returned; all histories are kept.
    - `patience`, `rtol`: early stopping when the best loss has not improved by a relative
      `rtol` for `patience` steps; `None`: no early stopping. Default `AUTO_PATIENCE`:
      5 steps for the default L-BFGS (which otherwise keeps line-searching once
      converged) in which neither the best loss nor the previous step's loss improved,
      none for any other optimiser.
      `target_loss`: stop once the loss is at or below it.
    - `strategy`: how to get from a bad start to the answer (see
      `neurojax.fitting.Auto`, `Plain`, `DataDrivenInit`, `MultipleShooting`,
      `GlobalSearch`, `Chain`). Default `Auto()`: the data-driven (least-squares)
      conductance estimate replaces the start when the target has a voltage trace and the
      trainables are maximal conductances of a conductance-based model; for a reset model
      (LIF, AdEx, EIF, Izhikevich) whose recorded voltage shows spikes, fits of the model
      with its spikes clamped to the recorded ones (`SpikeClampedInit`); otherwise plain
      gradient descent from the start given (the progress output says which). Where the
      final trace MSE is then far above the recording's own noise (`RESIDUAL_FACTOR`), it
      restarts the descent from points drawn around the estimate (`Restarts`), and says
      `StopReason.ABOVE_NOISE` (not converged, with a warning) if that does not help.
      `None` or `Plain()`: plain gradient descent from the start given.
    - `starts`: explicit initial values of every start instead of random draws,
      structured like `trainable(model)` with a leading `n_starts` axis (e.g. a tuple of
      three `(20,)` arrays for 20 starts of `(g_na, g_k, g_l)`); each start is optimised
      independently (vmapped) and `FitResult.start_params` holds each one's best point.
      A strategy may still replace them (`Auto` and `DataDrivenInit` put start 0 at
      their estimate and draw the others around it; pass `strategy=Plain()` to keep them).
    - `cull`: `Cull(after=10, factor=10.0)` freezes starts of a multi-start fit whose loss
      is more than `factor` times the best's after `after` steps; default `None`.
    - `progress_meter`: `TextProgress()` (default) prints the loss every `print_every`
      steps (default: 10 lines per fit); `NoProgress()` prints nothing.
    - `callback`: `f(FitStep)` called after every step; returning `True` stops the fit.
    - `simulation_key`: the PRNG key every simulation of the fit uses, for models with
      random drives (a network's `PoissonDrive`): the same noise in every simulation
      (common random numbers), so the loss is a deterministic, differentiable function
      of the parameters. Such a model refuses to run without it. (`key` is the
      multi-start draw's.)

    Returns a `FitResult` (best parameters, loss of every start, `converged`, what each
    stage of the strategy did, simulations spent). The optimisation step is compiled
    once (`eqx.filter_jit`) and driven from Python, so progress, early stopping, callbacks
    and Ctrl-C (which returns the best result so far) all work in notebooks and scripts
    alike. Everything that can be wrong with the arguments raises before compilation.
    """
    for name, value in (("steps", steps), ("n_starts", n_starts)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    steps, n_starts = int(steps), int(n_starts)
    if n_starts > 1 and key is None:
        raise ValueError(
            "a multi-start fit draws its initial values at random: pass key=jax.random.key(0) "
            "(any seed; the same key gives the same fit)."
        )
    if not init_spread > 1:
        raise ValueError(f"init_spread must be a factor > 1, got {init_spread!r}.")
    # a NaN rtol or target_loss would compare False everywhere and be silently ignored
    check_number("fit", "rtol", rtol, 0.0, meaning="relative improvement")
    if target_loss is not None:
        check_number("fit", "target_loss", target_loss, meaning="loss value to stop at")
    check_instance("progress_meter", progress_meter, AbstractProgressMeter, "neurojax.NoProgress()")
    if print_every is not None and (
        isinstance(print_every, (bool, np.bool_))
        or not isinstance(print_every, (int, np.integer))
        or print_every < 1
    ):
        # 0 was a ZeroDivisionError deep in the descent loop, a negative count was ignored
        raise ValueError(
            f"fit: print_every must be a number of steps >= 1 or None, got {print_every!r}."
        )
    if strategy is None:
        strategy = Plain()
    check_instance("strategy", strategy, AbstractStrategy, "neurojax.fitting.Auto()")
    if cull is not None:
        check_instance("cull", cull, Cull, "neurojax.fitting.Cull(after=10, factor=10.0)")
    model = _float_leaves_to_arrays(model, trainable)
    build = functools.partial(
        make_objective,
        inputs=inputs,
        target=target,
        dt=dt,
        trainable=trainable,
        loss=loss,
        constraints=constraints,
        solver=solver,
        saveat=saveat,
        adjoint=adjoint,
        t0=t0,
        simulation_key=simulation_key,
    )
    obj = build(model)
    auto_patience = None
    if optimizer is None:
        n_scalars = sum(int(np.size(p)) for p in jtu.tree_leaves(obj.params0))
        optimizer = default_optimizer(obj.loss, steps, n_parameters=n_scalars)
        if _voltage_only(obj.loss):
            auto_patience = 5
    elif isinstance(optimizer, LevenbergMarquardt):
        if not _least_squares(obj.loss):
            raise ValueError(
                f"LevenbergMarquardt needs a sum-of-squares loss (TraceMSE, RestingPotential "
                f"and their weighted sums with weights >= 0); got {obj.loss!r}. Use "
                "optax.lbfgs() or optax.adam(...) for other losses."
            )
        auto_patience = 5
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax optimiser such as optax.adam(1e-2), or "
            f"neurojax.fitting.LevenbergMarquardt(), got {optimizer!r}."
        )
    progress_resets = isinstance(patience, _AutoPatience) and auto_patience is not None
    if isinstance(patience, _AutoPatience):
        patience = auto_patience
    elif patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, int) or patience < 1
    ):
        raise ValueError(f"patience must be a positive number of steps or None; got {patience!r}.")
    # trace (not compile) the loss once: a non-scalar loss, and a trainable the loss never
    # reads, are reported here
    out = _check_loss_reads_params(obj)
    if out.shape != ():
        raise ValueError(f"the loss must return a scalar, got shape {out.shape}.")
    if print_every is None:
        print_every = max(1, steps // 10)

    fit_start = time.perf_counter()
    ctx = _Context(
        build=build,
        n_starts=n_starts,
        key=key,
        init_spread=init_spread,
        progress_meter=progress_meter,
    )
    state = _StrategyState(obj=obj, starts=_given_starts(obj, starts, n_starts), stages=[])
    ctx.n_starts = n_starts = _n_starts_of(state.starts, n_starts)
    user_obj, user_starts = state.obj, state.starts
    state = strategy.run(ctx, state)
    obj = state.obj
    p_starts = (
        state.starts
        if state.starts is not None
        else _sample_starts(obj, n_starts, key, init_spread)
    )
    n_starts = _n_starts_of(p_starts, n_starts)

    u = jax.vmap(obj.to_unconstrained)(jtu.tree_unflatten(obj.treedef, p_starts))
    # the optimiser works in the default float dtype (optax keeps its line-search state
    # there); `with_params` casts back to the model's own dtype, so a float32 model under
    # x64 runs in float32 and is optimised in float64
    u = _strong(jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u))
    descend = functools.partial(
        _descend,
        obj,
        optimizer,
        steps=steps,
        patience=patience,
        rtol=rtol,
        target_loss=target_loss,
        progress_meter=progress_meter,
        print_every=print_every,
        callback=callback,
        cull=cull,
        progress_resets=progress_resets,
    )
    d = descend(u)
    reads = [d]  # every descent of `obj` in this fit, for `unread`
    floor = _noise_floor(obj)
    limit = None if floor is None else RESIDUAL_FACTOR * floor + RESIDUAL_FLOOR
    above_noise, shape = _above_noise(obj, d, limit)
    first_stage = StageReport(
        name="gradient",
        loss=float(np.min(d.best_loss)),
        n_simulations=int(d.n_evaluations.sum()),
        seconds=d.seconds,
        note=f"{len(d.losses)} steps ({d.stop_reason.value}) from {n_starts} start(s)",
    )
    later_stages = ()
    restart_rounds = 0
    if (
        above_noise
        and isinstance(strategy, Auto)
        and strategy.restarts is not None
        and state.estimate is not None
    ):
        again = _restart(
            obj,
            strategy.restarts,
            state.estimate,
            limit,
            lambda u0: descend(u0, label="restart step"),
            progress_meter,
        )
        if again is not None:
            d2, starts2, _, restart_rounds, report = again
            reads.append(d2)
            later_stages = (report,)
            if float(np.min(d2.best_loss)) < float(np.min(d.best_loss)):
                d, p_starts = d2, starts2
                n_starts = int(d.best_loss.shape[0])
            above_noise, shape = _above_noise(obj, d, limit)
    polish_stage, stationary, polished = (), True, False
    gauss_newton_stationary = False  # the stationarity test below ran and passed
    if (
        isinstance(strategy, Auto)
        and isinstance(optimizer, LevenbergMarquardt)
        and limit is not None
        and not above_noise
        and d.stop_reason in (StopReason.FLOOR, StopReason.PATIENCE, StopReason.NO_IMPROVEMENT)
    ):
        # the stationarity test (POLISH_SE): is the Gauss–Newton step from the result
        # longer than a standard error? Then LM stopped on its rounding floor, not at a
        # minimum; a float32 model is finished in float64
        b = int(np.argmin(np.where(np.isfinite(d.best_loss), d.best_loss, np.inf)))
        lb = np.stack(d.losses)[:, b]
        k = int(np.argmin(np.where(np.isfinite(lb), lb, np.inf)))
        u_b = [x[b] for x in d.best_u]
        se = gauss_newton_standard_errors(
            float(lb[k]), float(np.stack(d.grad_norms)[k, b]), n_residuals(obj, u_b)
        )
        gauss_newton_stationary = se <= POLISH_SE or float(d.best_loss[b]) <= POLISH_MIN_LOSS
        # a final descent that never moved (NO_IMPROVEMENT: a strategy's start already at
        # the minimum) is only tested, not polished
        moved = d.stop_reason is not StopReason.NO_IMPROVEMENT
        if moved and float(d.best_loss[b]) > POLISH_MIN_LOSS and se > POLISH_SE:
            stationary = False
            if strategy.polish and is_float32(obj):
                progress_meter.write(
                    f"fit: the Gauss–Newton step from the result is {se:.2g} standard errors "
                    "long (float32 rounding floor, not a minimum): polishing in float64"
                )
                d2, starts2, report, se2 = polish_float64(
                    obj,
                    optimizer,
                    u_b,
                    steps=steps,
                    patience=patience,
                    rtol=rtol,
                    progress_meter=progress_meter,
                    print_every=print_every,
                )
                polish_stage = (report,)
                reads.append(d2)
                if float(d2.best_loss[0]) < float(d.best_loss[b]):  # never an uphill result
                    d, p_starts, n_starts, polished = d2, starts2, 1, True
                    stationary = se2 <= POLISH_SE
    edge_stage = ()
    if (
        isinstance(strategy, Auto)
        and limit is not None
        and not above_noise
        and not (stationary and gauss_newton_stationary)
        and d.stop_reason in (StopReason.FLOOR, StopReason.PATIENCE, StopReason.NO_IMPROVEMENT)
    ):
        # a reset model's least-squares point inside the recorded spike train's piece can
        # lie on the piece's boundary (a spike about to move by a step), where the
        # interior test above fails although no step within the piece lowers the loss:
        # the constrained (KKT) form of the same test (`edge_stationarity`)
        edge_stationary, edge_stage = _edge_test(obj, d)
        if edge_stationary:
            stationary = gauss_newton_stationary = True
    stop_reason = StopReason.ABOVE_NOISE if above_noise else d.stop_reason
    # a strategy that moved the start (SpikeClampedInit's clamped fits end at the
    # minimum's piece, DataDrivenInit's estimate near it) leaves the final descent little
    # to gain, so `_converged`'s certificate (the gradient 1e3-fold below the start's)
    # cannot pass; the Gauss–Newton stationarity test above (a step under POLISH_SE
    # standard errors) does certify the point, and the fit as a whole must have gone
    # below the user's own start (one vmapped simulation)
    strategy_certified = False
    if gauss_newton_stationary and not above_noise and state.starts is not user_starts:
        u0 = jax.vmap(user_obj.to_unconstrained)(
            jtu.tree_unflatten(
                user_obj.treedef, _starts_of(ctx, _StrategyState(user_obj, user_starts, []))
            )
        )
        u0 = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u0)
        user_loss = np.asarray(_losses_of(user_obj, u0))
        strategy_certified = bool(float(np.min(d.best_loss)) < float(np.min(user_loss)))
    n_done = len(d.losses)
    best_loss = d.best_loss
    best = int(np.argmin(np.where(np.isfinite(best_loss), best_loss, np.inf)))
    u_best = [x[best] for x in d.best_u]
    params = obj.from_unconstrained(u_best)
    all_losses = np.stack(d.losses)
    all_grad_norms = np.stack(d.grad_norms)
    finite_losses = np.where(np.isfinite(all_losses[:, best]), all_losses[:, best], np.inf)
    best_step = int(np.argmin(finite_losses))
    if polished:  # the last row is the returned float32 model (the others: float64 steps)
        best_step = len(finite_losses) - 1
    all_hist = jtu.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *d.history)
    n_eval = int(d.n_evaluations.sum())
    stages = tuple(state.stages) + (first_stage,) + later_stages + polish_stage + edge_stage
    seconds = time.perf_counter() - fit_start
    if above_noise:
        warnings.warn(
            f"fit: the final loss ({float(best_loss[best]):.4g} mV²) is far above the "
            f"recording's noise (σ̂² = {floor:.3g} mV², estimated from its second "
            "differences)"
            + (
                ""
                if shape is None
                else f", or its residual is not noise (mean square {shape[0]:.4g} mV² "
                f"against {shape[1]:.4g} from its median absolute value: a part "
                "concentrated in few samples, e.g. a spike in the wrong place)"
            )
            + (f" after {restart_rounds} round(s) of restarts" if restart_rounds else "")
            + ": a local minimum, or a model that "
            "cannot produce this recording. The result is not converged; try more starts "
            "(n_starts=, with strategy=GlobalSearch(...)), other trainables, or check the "
            "model and its inputs.",
            stacklevel=2,
        )
    unread, all_zero = _unread(obj, reads, float(best_loss[best]))
    if unread:
        _warn_unread(unread, all_zero, n_done)
    result = FitResult(
        model=obj.with_params(params),
        params=params,
        loss=float(best_loss[best]),
        losses=all_losses[:, best],
        all_losses=all_losses,
        param_history=jtu.tree_map(lambda h: h[:, best], all_hist),
        all_param_history=all_hist,
        initial_params=jtu.tree_unflatten(obj.treedef, [np.asarray(p) for p in p_starts]),
        best_start=best,
        n_steps=n_done,
        stop_reason=stop_reason,
        n_skipped=d.n_skipped,
        n_evaluations=n_eval,
        objective=obj,
        seconds=seconds,
        start_losses=best_loss,
        start_params=jtu.tree_map(np.asarray, jax.vmap(obj.from_unconstrained)(d.best_u)),
        converged=(
            _converged(
                all_losses[:, best],
                all_grad_norms[:, best],
                d.stop_reason,
                surrogate=_uses_spikes(obj.loss),
            )
            or strategy_certified
        )
        and not above_noise
        and stationary
        # nothing was fitted where the loss reads no trainable (held-out probe, session
        # 14: HH `v_th` alone under `TraceMSE` said FLOOR, converged)
        and not all_zero,
        restart_rounds=restart_rounds,
        best_step=best_step,
        grad_norms=all_grad_norms[:, best],
        strategy=strategy,
        stages=stages,
        n_simulations=int(sum(st.n_simulations for st in stages)),
        culled=~d.active,
        unread=unread,
    )
    progress_meter.write(
        f"fit: {n_done} steps in {seconds:.1f} s ({stop_reason.value}); best loss "
        f"{result.loss:.4g} (start {best} of {n_starts}); "
        f"{'converged' if result.converged else 'NOT converged'}"
        + (f" (NOT fitted, the loss never read: {', '.join(unread)})" if unread else "")
        + f"; {result.n_simulations} simulations"
    )
    return result
