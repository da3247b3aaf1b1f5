"""Fitting strategies: how `neurojax.fit` gets from a bad start to the answer.

Trace MSE between spiking traces is rugged — a spike shifted by a few ms costs as much as
a missing one — so gradient descent from a poor start stalls in local minima (issue 11:
one 60 ms HH sweep, starts in ±50 % of the truth, half of them fail). Each strategy is a
typed option of `fit(..., strategy=...)`; it prepares the starts of `fit`'s final
gradient stage (which always runs, with the user's loss and optimiser):

- `Plain()`: nothing — gradient descent from the start(s) given.
- `DataDrivenInit()`: the maximal conductances from the recorded voltage by non-negative
  least squares (Huys, Ahrens & Paninski 2006), independent of the start.
- `MultipleShooting()`: gradient descent on short windows each started from the
  recorded voltage (teacher forcing), with a continuity penalty tightened over the fit.
- `GlobalSearch()`: a gradient-free CMA-ES stage (Hansen 2016) whose best points start
  the gradient descent.
- `SpikeClampedInit()`: for reset models (integrate-and-fire, Izhikevich), fits of the
  model with its spikes clamped to the recorded ones (smooth in the parameters).
- `Chain(a, b, ...)`: stages in turn; `Auto()` (the default): `DataDrivenInit` or
  `SpikeClampedInit` where they apply, `Plain` otherwise, and says which; after `fit`'s
  descent, `Restarts` from the estimate's uncertainty where the residual is far above
  the recording's noise.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array

from .._errors import check_bool
from .._simulate import simulate
from ..solvers import Staggered, default_solver
from ._checks import check_positive
from ._data_driven import (
    _check_model,
    _conductances_from_voltage,
    _gate_fields,
    _gates,
    _rates,
    auto_window,
    decay_check,
)
from ._descent import LevenbergMarquardt, StageReport, _descend, _lbfgs, _sample_starts, _strong
from ._objective import Objective
from ._spike_clamp import applies as _clamp_applies
from ._spike_clamp import clamped_estimate

# ---------------------------------------------------------------- plumbing


@dataclasses.dataclass
class _Context:
    """What every stage may use: `build(model) -> Objective` (the fit's problem with
    another starting model), the multi-start settings and the progress meter."""

    build: Callable
    n_starts: int
    key: Any
    init_spread: float
    progress_meter: Any


@dataclasses.dataclass
class _StrategyState:
    """`obj`: the objective (its model = the current anchor of the constraints);
    `starts`: constrained values per selected leaf with a leading `n_starts` axis, or
    `None` (then `fit` draws them around `obj.params0`); `stages`: `StageReport`s."""

    obj: Objective
    starts: list | None
    stages: list
    estimate: Any = None
    """`(params, rel_cov)` of the data-driven estimate where one was made: its values
    (structured like `trainable(model)`) and the relative covariance `(k, k)` of its
    regression over the `k` selected scalars (0 rows for items that kept their start)."""


def _starts_of(ctx: _Context, state: _StrategyState) -> list:
    if state.starts is not None:
        return state.starts
    return _sample_starts(state.obj, ctx.n_starts, ctx.key, ctx.init_spread)


def _report(name, loss, n_sim, t0, note):
    return StageReport(
        name=name,
        loss=float(loss),
        n_simulations=int(n_sim),
        seconds=time.perf_counter() - t0,
        note=note,
    )


@eqx.filter_jit
def _losses_of(obj, u):
    """The objective at a batch of unconstrained points (leading axis), one vmapped
    simulation; non-finite losses come back as `inf`."""
    f = jax.vmap(lambda x: obj(obj.from_unconstrained(x)).astype(jnp.result_type(float)))(u)
    return jnp.where(jnp.isfinite(f), f, jnp.inf)


class AbstractStrategy(eqx.Module):
    """A way of preparing the starts of `fit`'s gradient stage. Subclasses implement
    `_run(ctx, state) -> state` (internal)."""

    @abc.abstractmethod
    def _run(self, ctx: _Context, state: _StrategyState) -> _StrategyState: ...

    def run(self, ctx: _Context, state: _StrategyState) -> _StrategyState:
        return self._run(ctx, state)


class Plain(AbstractStrategy):
    """Plain gradient descent from the start(s) given (`fit(strategy=None)` too)."""

    def _run(self, ctx, state):
        return state


class Chain(AbstractStrategy):
    """Stages in turn, each starting from where the previous left off, e.g.
    `Chain(DataDrivenInit(), MultipleShooting())` or `Chain(GlobalSearch(), ...)`."""

    stages: tuple

    def __init__(self, *stages: AbstractStrategy):
        for s in stages:
            if not isinstance(s, AbstractStrategy):
                raise TypeError(f"Chain takes strategies such as DataDrivenInit(), got {s!r}.")
        self.stages = tuple(stages)

    def _run(self, ctx, state):
        for s in self.stages:
            state = s.run(ctx, state)
        return state


# ---------------------------------------------------------------- data-driven init


def _masks_samples(loss) -> bool:
    """Whether a `TraceMSE` term of `loss` has concrete weights with a zero."""
    from ._losses import TraceMSE

    terms = loss.terms() if hasattr(loss, "terms") else ()
    for _, t in terms:
        if isinstance(t, TraceMSE) and t.weights is not None:
            if isinstance(t.weights, jax.core.Tracer) or bool(np.any(np.asarray(t.weights) == 0)):
                return True
    return False


@dataclasses.dataclass(frozen=True)
class _Pick:
    """`trainable` restricted to some of its leaves (hashable: repeated fits with the same
    `trainable` reuse the compiled regression)."""

    trainable: Callable
    idx: tuple

    def __call__(self, m):
        leaves = jtu.tree_leaves(self.trainable(m))
        return tuple(leaves[i] for i in self.idx)


def _estimate(obj: Objective, window: int):
    """`(params, note, n_simulations, rel_cov)` from the NNLS estimate made consistent
    with the objective's solver, or `(None, reason, n_simulations, None)` where it does
    not apply. Leaves that are not maximal conductances keep their start values (and 0
    rows and columns in `rel_cov`, the regression's covariance relative to the estimate,
    `(k, k)` over the `k` selected scalars: what `Restarts` draws from)."""
    n_sim = [0]

    rec = obj.target
    model = obj.model
    if rec.v is None:
        return None, "the target has no voltage trace", 0, None
    if _masks_samples(obj.loss):
        # the regression reads every sample: a padded or gap-filled one is not data
        # (held-out probe, session 13: HH sweeps of 20 and 40 ms batched, the short one
        # padded with 0 mV and weighted 0; the estimate read the padding, 16-fold off)
        return None, "the loss gives some samples zero weight (TraceMSE weights)", 0, None
    if obj.saveat.every != 1:
        return None, "the target is sampled every saveat.every > 1 steps", 0, None
    if obj.saveat.fn is not None or not isinstance(obj.inputs, jax.Array):
        return (
            None,
            "the target is what SaveAt(fn=...) records, or the inputs are a pytree",
            0,
            None,
        )
    missing = [n for n in ("membrane_current", "linear_part", "c_m") if not hasattr(model, n)]
    if missing:
        return None, f"{type(model).__name__} is not a conductance-based point neuron", 0, None
    v = np.asarray(rec.v)
    current = np.asarray(obj.inputs)
    if v.ndim > 2 or v.shape != current.shape:
        return None, "the trace is not (n_steps,) or (n_steps, n_sweeps) like the inputs", 0, None
    leaves = jtu.tree_leaves(obj.params0)
    if any(jnp.shape(p) != () for p in leaves):
        return None, "a trainable parameter is not a scalar", 0, None
    n = len(leaves)

    covs = {}

    def attempt(idx, refine=True):
        try:
            m, spent, cov = _conductances_from_voltage(
                model,
                v,
                current,
                obj.dt,
                trainable=_Pick(obj.trainable, idx),
                window=window,
                solver=obj.solver,
                one_sided=False,
                refine=refine,
                with_covariance=True,
            )
        except (TypeError, ValueError) as e:
            return None, str(e)
        covs[idx] = cov
        n_sim[0] += spent
        return [jnp.asarray(p) for p in _Pick(obj.trainable, idx)(m)], ""

    idx = tuple(range(n))
    est, why = attempt(idx)
    if est is None and n > 1:
        # some trainables are not conductances: estimate those that are, keep the rest
        idx = tuple(j for j in range(n) if attempt((j,), refine=False)[0] is not None)
        est, why = attempt(idx) if idx else (None, why)
    if est is None:
        why = why.split(";")[0]
        return None, f"the trainables are not maximal conductances ({why})", n_sim[0], None
    values = list(leaves)
    kept = []
    g_est = np.array([float(g) for g in est])
    scale = np.where(g_est > 0, g_est, 1.0)
    rel_cov = np.zeros((n, n))
    rel_cov[np.ix_(idx, idx)] = covs[idx] / np.outer(scale, scale)
    for j, g in zip(idx, est, strict=True):
        t = obj.transforms[j]
        if bool(jnp.isfinite(t.inverse(g.astype(jnp.result_type(float))))):
            values[j] = g.astype(jnp.result_type(leaves[j]))
        else:  # 0 or outside a Bounded range: the start stays
            kept.append(j)
            rel_cov[j, :] = rel_cov[:, j] = 0.0
    note = f"NNLS estimate of trainable item(s) {list(j for j in idx if j not in kept)}"
    if kept or len(idx) < n:
        note += f"; items {sorted(set(range(n)) - set(idx) | set(kept))} keep their start"
    return jtu.tree_unflatten(obj.treedef, values), note, n_sim[0], rel_cov


def _check_window(window):
    if window is None:
        return
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a number of steps >= 1 or None, got {window!r}.")


class DataDrivenInit(AbstractStrategy):
    """Start from the maximal conductances estimated from the recorded voltage by
    non-negative least squares (`conductances_from_voltage`; Huys, Ahrens & Paninski
    2006): with V(t) known, the gates follow from linear ODEs and the conductances enter
    the current balance linearly. The estimate does not depend on the start.

    Applies when the target has a voltage trace sampled every step and the model is a
    conductance-based point neuron; trainables whose current is not linear (reversal
    potentials, kinetics) keep their start values, and a conductance estimated at 0 or
    outside its `Bounded` range keeps its start too. With `n_starts > 1`, start 0 is the
    estimate and the others are drawn around it (`init_spread`) — or, where explicit
    starts were given (`fit(starts=...)`, or a previous stage of a `Chain`), start 0 is
    replaced by the estimate and the others stay.

    - `window`: steps per window of the integrated current balance (see
      `conductances_from_voltage`; ~0.5 ms windows average measurement noise). `None`
      (default): from the recording's own noise (`auto_window`: 1 step on a clean
      trace, ~0.5 ms where the estimated noise exceeds `NOISY_SD` = 0.05 mV).
    - `required`: raise where it does not apply (default: say so and go on from the
      start given).

    The regression's estimate is made consistent with the fit's solver at its `dt`
    (`conductances_from_voltage`): exact on a trace that solver produced, so `fit` starts
    at its minimum there.

    Cost: a pass along the recording for the gates and a small NNLS (a few seconds to
    compile the first time), up to `REFINE_ITERATIONS` (8) simulations for the solver
    consistency (HH: 3–6), plus one simulation to report its loss.
    """

    window: int | None = None
    required: bool = False

    def __check_init__(self):
        _check_window(self.window)
        check_bool("DataDrivenInit.required", self.required)

    def _run(self, ctx, state, label="DataDrivenInit"):
        t0 = time.perf_counter()
        window = self.window
        if window is None and state.obj.target.v is not None:
            window = auto_window(state.obj.target.v, state.obj.dt)
        params, note, n_sim, rel_cov = _estimate(state.obj, int(window or 1))
        if window != 1 and params is not None:
            note += f" (windows of {window} steps)"
        if params is None:
            if self.required:
                raise ValueError(
                    f"DataDrivenInit does not apply: {note}. It needs a voltage target "
                    "sampled every step and maximal conductances of a conductance-based "
                    "model (HodgkinHuxley, MorrisLecar); use strategy=Plain() or "
                    "GlobalSearch() otherwise."
                )
            ctx.progress_meter.write(f"fit: {label}: not applicable ({note}); plain start")
            state.stages.append(_report(label, np.nan, n_sim, t0, f"skipped: {note}"))
            return state
        obj = ctx.build(state.obj.with_params(params))
        u = jax.vmap(obj.to_unconstrained)(jtu.tree_map(lambda p: jnp.asarray(p)[None], params))
        u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
        loss = float(_losses_of(obj, u)[0])
        vals = ", ".join(f"{float(p):.4g}" for p in jtu.tree_leaves(params))
        ctx.progress_meter.write(f"fit: {label}: start ({vals}), loss {loss:.4g}; {note}")
        state.stages.append(_report(label, loss, n_sim + 1, t0, f"{note}: ({vals})"))
        state.obj = obj
        state.estimate = (params, rel_cov)
        if state.starts is not None:  # the user's (or a previous stage's) starts
            state.starts = [
                x.at[0].set(jnp.asarray(p, x.dtype))
                for x, p in zip(state.starts, jtu.tree_leaves(params), strict=True)
            ]
        else:
            state.starts = _sample_starts(obj, ctx.n_starts, ctx.key, ctx.init_spread)
        return state


def _check_int(owner, name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{owner}.{name} must be an integer >= {low}, got {value!r}.")


class Restarts(eqx.Module):
    """What `Auto` does when its descent settles far above the recording's noise (a
    final `TraceMSE` above `RESIDUAL_FACTOR·σ̂² + RESIDUAL_FLOOR`, σ̂ = `noise_sd` of
    the target): restart the descent from points drawn around the data-driven estimate
    with its own uncertainty, and keep the best.

    Each round draws `candidates` points `g = ĝ·exp(z)`, `z ~ N(0, spread²·C)` (`ĝ`: the
    estimate, `C`: the relative covariance of its regression,
    `_data_driven._regression_covariance`, which understates its error — HH, 1 mV noise:
    errors of 0.3–3 standard errors — hence `spread` = 3), ranks them by the loss (one
    vmapped simulation, no gradient), and runs the fit's optimiser from the `polished`
    best ones at once (vmapped). Rounds stop once the best loss is under the noise limit.

    Why: on a sweep near the firing threshold (HH, 6 µA/cm², 2 spikes) a few per cent
    decide between 1, 2 and 3 spikes, and the descent from the estimate ends in a
    one-spike minimum (148–170 mV² where the noise is 1 mV²) for about half of the noise
    draws: even from starts within ±5 % of the truth, Levenberg–Marquardt reached it from
    only 19–34 %. A first round recovered all 5 such draws of 12 (docs/fitting.md).
    Ranking by the loss picks candidates with the right spikes.

    Cost, only where the check fails: `rounds × (candidates + polished × steps
    taken)` simulations at most; the first restart compiles the optimiser's step for
    `polished` starts (~15 s for HH on 2 CPU cores).
    """

    rounds: int = 3
    candidates: int = 32
    polished: int = 8
    spread: float = 3.0
    seed: int = 0

    def __check_init__(self):
        _check_int("Restarts", "rounds", self.rounds, 1)
        _check_int("Restarts", "candidates", self.candidates, 1)
        _check_int("Restarts", "polished", self.polished, 1)
        _check_int("Restarts", "seed", self.seed, 0)
        if self.polished > self.candidates:
            raise ValueError(
                f"Restarts.polished ({self.polished}) cannot exceed Restarts.candidates "
                f"({self.candidates})."
            )
        check_positive("Restarts", "spread", self.spread)


def _restart(obj, restarts: Restarts, estimate, limit: float, descend, progress_meter):
    """`Restarts` from the data-driven `estimate` `(params, rel_cov)`: returns
    `(descent, constrained starts, n_simulations, rounds, StageReport)` of the best round,
    or `None` where the estimate has no spread to draw from."""
    t0 = time.perf_counter()
    params, rel_cov = estimate
    leaves = jtu.tree_leaves(params)
    g_hat = np.array([float(x) for x in leaves])
    w, basis = np.linalg.eigh(0.5 * (rel_cov + rel_cov.T))
    root = basis * np.sqrt(np.maximum(w, 0.0))  # C = root rootᵀ
    if not np.any(root):
        return None
    rng = np.random.default_rng(int(restarts.seed))
    best = None
    n_sim = 0
    rounds = 0
    for _ in range(int(restarts.rounds)):
        rounds += 1
        z = float(restarts.spread) * rng.standard_normal((int(restarts.candidates), g_hat.size))
        cand = g_hat * np.exp(z @ root.T)
        values = [jnp.asarray(cand[:, j], jnp.result_type(p)) for j, p in enumerate(leaves)]
        u = jax.vmap(obj.to_unconstrained)(jtu.tree_unflatten(obj.treedef, values))
        u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
        f = np.asarray(_losses_of(obj, u))
        n_sim += len(f)
        pick = np.argsort(f, kind="stable")[: int(restarts.polished)]
        d = descend(_strong(jtu.tree_map(lambda x, i=pick: x[i], u)))
        n_sim += int(d.n_evaluations.sum())
        loss = float(np.min(d.best_loss))
        progress_meter.write(
            f"fit: restart round {rounds}: {len(f)} candidates around the data-driven "
            f"estimate, best screened {float(f[pick[0]]):.4g}; descent from {len(pick)} "
            f"→ {loss:.4g} (noise limit {limit:.4g})"
        )
        if best is None or loss < best[1]:
            best = (d, loss, [x[pick] for x in values])
        if best[1] <= limit:
            break
    d, loss, starts = best
    note = (
        f"{rounds} round(s) of {restarts.candidates} candidates ~ estimate·exp(N(0, "
        f"{float(restarts.spread):g}²·C)), {restarts.polished} descents each; best {loss:.4g}"
    )
    report = _report("Restarts", loss, n_sim, t0, note)
    return d, starts, n_sim, rounds, report


class Auto(AbstractStrategy):
    """`fit`'s default: `DataDrivenInit(window)` where it applies (a voltage target and
    maximal conductances of a conductance-based model), `SpikeClampedInit(every=window)`
    for a reset model (LIF, AdEx, EIF, Izhikevich) whose recorded voltage shows spikes,
    plain gradient descent from the start given otherwise; the progress output says which
    and why.

    After the descent, `fit` compares the final trace MSE with the recording's own noise
    (`noise_sd`); where it is far above and the data-driven estimate was used, it runs
    `restarts` (a `Restarts`; `None`: none, just the warning and `converged=False`).

    `polish` (default `True`): where Levenberg–Marquardt stopped on a float32 model with a
    Gauss–Newton step still longer than one standard error of the parameters (its rounding
    floor, not a minimum: `fit`'s `POLISH_SE`) on a noisy recording, the descent is
    finished in float64 (the objective cast to float64 under `jax.enable_x64`) and the
    result cast back to the model's float32 (`StageReport` `"Float64Polish"`). With
    `polish=False` such a fit is reported `converged=False`.
    """

    window: int | None = None
    restarts: Restarts | None = Restarts()
    polish: bool = True

    def __check_init__(self):
        _check_window(self.window)
        check_bool("Auto.polish", self.polish)
        if self.restarts is not None and not isinstance(self.restarts, Restarts):
            raise TypeError(
                f"Auto.restarts must be a neurojax.fitting.Restarts or None, got {self.restarts!r}."
            )

    def _run(self, ctx, state):
        if _clamp_applies(state.obj) is None:
            return SpikeClampedInit(every=self.window)._run(
                ctx, state, label="Auto → SpikeClampedInit"
            )
        return DataDrivenInit(window=self.window)._run(ctx, state, label="Auto → DataDrivenInit")


CLAMPED_STEPS = 400
"""At most this many Levenberg–Marquardt steps per stage of `SpikeClampedInit`."""

CLAMPED_PATIENCE = 20
"""`SpikeClampedInit`'s stages stop after this many steps without a relative gain of
1e-6: AdEx's eight parameters creep along a sloppy valley (patience 5 stopped the
spike-clamped stage at 0.2 mV² on noise-free data whose minimum is 0)."""


class SpikeClampedInit(AbstractStrategy):
    """For reset models (integrate-and-fire, Izhikevich) fitted to a voltage trace: start
    the final descent from a fit of the model with its spikes clamped to the recorded
    ones (`neurojax.fitting._spike_clamp`): the recorded spikes are the trace's resets
    (its largest downward jumps); a first Levenberg–Marquardt stage teacher-forces V to
    the recording every `every` steps, a second runs free between the recorded spikes.
    Both losses are smooth in the parameters (no simulated spike can move), with their
    minimum at the truth on the model's own noise-free data; the second is unbiased by
    measurement noise. For `AdEx` a data-driven estimate from the recorded trace and its
    resets (`neurojax.fitting._adex_estimate.adex_from_voltage`: variable projection, no
    simulation; exact on noise-free data) competes with the starts first (screened by
    the spike-clamped MSE). The threshold `v_th` and `t_ref`, if trainable, keep their start
    (the clamped loss does not see them). Every start is run through both stages.

    - `every`: steps between teacher-forced samples in the first stage. `None` (default):
      `auto_window` of the recording (1 on a clean trace, ~0.5 ms of steps on a noisy one:
      each prediction then spans more than the noise).
    - `required`: raise where it does not apply (default: say so and go on from the
      start given).

    Cost: two LM descents of the clamped simulation (tens of steps each, one simulation
    with a batched JVP per step), compiled once per problem size.
    """

    every: int | None = None
    required: bool = False

    def __check_init__(self):
        _check_window(self.every)
        check_bool("SpikeClampedInit.required", self.required)

    def _run(self, ctx, state, label="SpikeClampedInit"):
        t0 = time.perf_counter()
        why = _clamp_applies(state.obj)
        if why is not None:
            if self.required:
                raise ValueError(
                    f"SpikeClampedInit does not apply: {why}. It needs an integrate-and-fire "
                    "model (LIF, AdEx, EIF, Izhikevich) and its voltage recorded at every step."
                )
            ctx.progress_meter.write(f"fit: {label}: not applicable ({why}); plain start")
            state.stages.append(_report(label, np.nan, 0, t0, f"skipped: {why}"))
            return state
        obj = state.obj
        every = self.every if self.every is not None else auto_window(obj.target.v, obj.dt)
        starts = _starts_of(ctx, state)

        def descend(sub, u, step_label):
            return _descend(
                sub,
                LevenbergMarquardt(),
                _strong(u),
                steps=CLAMPED_STEPS,
                patience=CLAMPED_PATIENCE,
                rtol=1e-6,
                progress_meter=ctx.progress_meter,
                print_every=50,
                label=step_label,
            )

        found, best, notes, n_sim = clamped_estimate(obj, starts, descend=descend, every=every)
        # the free model at each start's clamped estimate (constraints anchored at the
        # best one: a parameter may have changed sign); where it fails (a far start that
        # ended where the free simulation overflows), that start stays as given
        at_best = ctx.build(obj.with_params(best))
        u = jax.vmap(at_best.to_unconstrained)(jtu.tree_unflatten(obj.treedef, found))
        u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
        losses = np.asarray(_losses_of(at_best, u))
        ok = np.isfinite(losses)
        if not ok.any():
            note = "; ".join(notes)
            ctx.progress_meter.write(
                f"fit: {label}: the free model fails at every clamped estimate ({note}); "
                "plain start"
            )
            state.stages.append(_report(label, np.nan, n_sim + len(losses), t0, note))
            return state
        starts = [
            jnp.where(jnp.asarray(ok).reshape((-1,) + (1,) * (f.ndim - 1)), f, x.astype(f.dtype))
            for f, x in zip(found, starts, strict=True)
        ]
        if not ok.all():
            notes.append(f"start(s) {list(np.nonzero(~ok)[0])} kept: the free model fails there")
        b = int(np.argmin(np.where(ok, losses, np.inf)))
        best = jtu.tree_unflatten(obj.treedef, [x[b] for x in starts])
        obj = ctx.build(obj.with_params(best))
        u = jax.vmap(obj.to_unconstrained)(jtu.tree_unflatten(obj.treedef, starts))
        u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
        losses = np.asarray(_losses_of(obj, u))
        vals = ", ".join(f"{float(p):.4g}" for p in jtu.tree_leaves(best))
        note = "; ".join(notes)
        ctx.progress_meter.write(
            f"fit: {label}: start ({vals}), loss {float(np.min(losses)):.4g}; {note}"
        )
        state.stages.append(
            _report(label, float(np.min(losses)), n_sim + len(losses), t0, f"{note}: ({vals})")
        )
        state.obj = obj
        state.starts = starts
        return state


DEFAULT_STRATEGY = Auto()
"""`fit`'s default `strategy`."""


# ---------------------------------------------------------------- multiple shooting


class _Shooting(eqx.Module):
    """The multiple-shooting loss: `n_windows` windows of `length` steps, each started
    from the recorded voltage at row `rows[k]` with the gates integrated along the
    recording; trace MSE inside the windows plus `weight` × the mismatch between each
    window's final state and the recorded state at its end (gates scaled by
    `gate_scale` mV). Simulated as one `vmap` over windows."""

    base: Objective
    weight: Array
    v: Array  # (n, s) mV
    current: Array  # (n, s)
    rows: Array  # (n_windows,) start rows
    length: int = eqx.field(static=True)
    gate_names: tuple = eqx.field(static=True)
    gate_scale: float = eqx.field(static=True, default=100.0)

    @property
    def transforms(self):
        return self.base.transforms

    @property
    def treedef(self):
        return self.base.treedef

    def from_unconstrained(self, u):
        return self.base.from_unconstrained(u)

    def to_unconstrained(self, p):
        return self.base.to_unconstrained(p)

    @property
    def adjoint(self):
        return self.base.adjoint

    def unconstrained_loss(self, u):
        return self(self.from_unconstrained(u)).astype(jnp.result_type(float))

    def unconstrained(self, u):
        return self.adjoint.reverse_differentiable(self.unconstrained_loss)(u)

    def windows(self, params):
        """`(pred_v, data_v, end_state, data_end)` of every window."""
        base = self.base
        model = base.with_params(params)
        dt = base.dt
        s = self.v.shape[1]
        names = self.gate_names
        state0 = model.init_state((s,))
        x0, _ = _rates(model, state0._replace(v=self.v[0]), self.current[0], names)
        data = _gates(model, self.v, self.current, x0, dt, names)  # fields (n, s)
        y0 = jtu.tree_map(lambda a: a[self.rows], data)  # (W, s)
        data_end = jtu.tree_map(lambda a: a[self.rows + self.length], data)
        solver = default_solver(model) if base.solver is None else base.solver
        if isinstance(solver, Staggered):
            # Staggered carries the gates half a step behind V: start from, and compare
            # with, the reconstructed gates at t − dt/2 (the mean of rows r − 1 and r,
            # O(dt²)). Measured at the truth (tests/test_fit_strategies.py): max window
            # error 2.68 → 0.043 mV, rms 0.29 → 0.005 mV (ExponentialRK2: 0.9 mV max).
            def half(a, r):
                return 0.5 * (a[jnp.maximum(r - 1, 0)] + a[r])

            y0 = y0._replace(**{g: half(getattr(data, g), self.rows) for g in names})
            end_rows = self.rows + self.length
            data_end = data_end._replace(**{g: half(getattr(data, g), end_rows) for g in names})
        idx = self.rows[:, None] + 1 + jnp.arange(self.length)[None]  # (W, L)
        t_start = base.t0 + (self.rows + 1) * dt

        def one(y, inp, t):
            return simulate(
                model,
                inp,
                dt=dt,
                solver=base.solver,
                state0=y,
                t0=t,
                adjoint=base.adjoint,
                throw=False,
            )

        sol = jax.vmap(one)(y0, self.current[idx], t_start)
        end = sol.final_state.y
        return sol.v, self.v[idx], end, data_end

    def __call__(self, params):
        pred, data, end, data_end = self.windows(params)
        trace = jnp.mean((pred - data) ** 2)
        gap = (end.v - data_end.v) ** 2
        for g in self.gate_names:
            gap = gap + (self.gate_scale * (getattr(end, g) - getattr(data_end, g))) ** 2
        return trace + self.weight * jnp.mean(gap)


def _shooting_problem(obj: Objective, n_windows: int):
    """Check that multiple shooting applies and return `(v, current, rows, length,
    gate_names)`; raise saying why not."""
    rec = obj.target
    if rec.v is None or obj.saveat.every != 1 or obj.saveat.fn is not None:
        raise ValueError(
            "MultipleShooting starts each window from the recorded voltage: the target "
            "needs a voltage trace sampled every step (SaveAt(every=1))."
        )
    _check_model(obj.model)
    v = jnp.asarray(rec.v)
    current = jnp.asarray(obj.inputs)
    if v.ndim == 1:
        v, current = v[:, None], current[:, None]
    if v.ndim != 2 or v.shape != current.shape:
        raise ValueError(
            "MultipleShooting needs a point neuron's trace (n_steps,) or (n_steps, n_sweeps) "
            f"shaped like the inputs; got v {tuple(v.shape)}, inputs {tuple(current.shape)}."
        )
    v = v.astype(jnp.result_type(obj.model.c_m))
    current = current.astype(v.dtype)
    n = v.shape[0]
    length = (n - 1) // n_windows
    if length < 2:
        raise ValueError(f"{n} samples are too few for {n_windows} windows; use fewer windows.")
    state0 = obj.model.init_state((v.shape[1],))
    gate_names = _gate_fields(obj.model, state0)
    decay_check(obj.model, v, current, gate_names)
    rows = jnp.asarray(np.arange(n_windows) * length, dtype=jnp.int32)
    return v, current, rows, length, gate_names


class MultipleShooting(AbstractStrategy):
    """Multiple shooting with teacher forcing: the trace is split into `n_windows`
    windows, each simulated from the *recorded* voltage at its start (gates integrated
    along the recording, as in `conductances_from_voltage`), all windows in one `vmap`.
    Within a window of a few ms a spike cannot drift far, so the trace MSE stays smooth
    in the parameters. The loss is the windows' trace MSE (mV²) plus `continuity[i]` ×
    the mean squared mismatch between each window's final state and the recorded state
    at its end (V in mV, gates × 100 mV); gradient descent (L-BFGS, up to `steps` steps
    each) runs once per entry of the schedule `continuity`, tightening the coupling. The
    result starts `fit`'s final stage, which polishes with the user's loss on the whole
    trace (use `fit(steps=1)` to keep the shooting result as it is).

    Needs a voltage target sampled every step and a conductance-based point neuron
    (`HodgkinHuxley`, `MorrisLecar`); raises otherwise. Any trainables (conductances,
    kinetics) can be fitted. Cost: `len(continuity) × steps` loss-and-gradient
    evaluations at most, each about one simulation of the whole trace.
    """

    n_windows: int = 12
    continuity: tuple = (0.0, 1.0, 10.0)
    steps: int = 40

    def __check_init__(self):
        if not isinstance(self.n_windows, int) or self.n_windows < 1:
            raise ValueError(f"n_windows must be an integer >= 1, got {self.n_windows!r}.")
        if not self.continuity or any(float(c) < 0 for c in self.continuity):
            raise ValueError(
                f"continuity must be a non-empty schedule of weights >= 0, got {self.continuity!r}."
            )
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}.")

    def _run(self, ctx, state):
        t0 = time.perf_counter()
        obj = state.obj
        v, current, rows, length, names = _shooting_problem(obj, self.n_windows)
        starts = _starts_of(ctx, state)
        u = jax.vmap(obj.to_unconstrained)(jtu.tree_unflatten(obj.treedef, starts))
        u = _strong(jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u))
        n_sim, best = 0, np.inf
        for w in self.continuity:
            sh = _Shooting(
                base=obj,
                weight=jnp.asarray(float(w), v.dtype),
                v=v,
                current=current,
                rows=rows,
                length=length,
                gate_names=names,
            )
            d = _descend(
                sh,
                _lbfgs(),
                u,
                steps=int(self.steps),
                patience=5,
                progress_resets=True,
                rtol=1e-6,
                progress_meter=ctx.progress_meter,
                print_every=max(1, int(self.steps) // 2),
                label=f"shooting (continuity {float(w):g}) step",
            )
            u = _strong(d.best_u)
            n_sim += int(d.n_evaluations.sum())
            best = float(np.min(d.best_loss))
        starts = [np.asarray(x) for x in jtu.tree_leaves(jax.vmap(obj.from_unconstrained)(u))]
        vals = ", ".join(f"{float(x[0]):.4g}" for x in starts)
        ctx.progress_meter.write(f"fit: MultipleShooting: start 0 now ({vals})")
        state.stages.append(
            _report(
                "MultipleShooting",
                best,
                n_sim,
                t0,
                f"{self.n_windows} windows of {length} steps, continuity {self.continuity}",
            )
        )
        state.starts = [jnp.asarray(x) for x in starts]
        return state


# ---------------------------------------------------------------- global search (CMA-ES)


class CMAES:
    """CMA-ES state with an ask/tell interface (full covariance, Hansen's default
    parameters; Hansen 2016, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772),
    so several independent runs can share one batched evaluation per generation.

    `CMAES(mean, sigma, population=None, seed=0)`; `x = es.ask()` → `(λ, n)` candidates;
    `es.tell(x, f)` with their losses `(λ,)` (non-finite rank last). `es.mean`,
    `es.sigma`, `es.best_x`, `es.best_f`, `es.stopped` (step size collapsed, < 1e-10).
    Default population `λ = 4 + ⌊3 ln n⌋`, parents `μ = ⌊λ/2⌋`.
    """

    def __init__(self, mean, sigma: float, population: int | None = None, seed: int = 0):
        self.mean = np.asarray(mean, dtype=float).ravel().copy()
        n = self.n = self.mean.size
        self.sigma = float(sigma)
        self.lam = lam = int(population or 4 + int(3 * math.log(n)))
        mu = lam // 2
        w = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        self.w = w / w.sum()
        self.mu, self.mu_eff = mu, 1.0 / np.sum(self.w**2)
        m = self.mu_eff
        self.c_sigma = (m + 2) / (n + m + 5)
        self.d_sigma = 1 + 2 * max(0.0, math.sqrt((m - 1) / (n + 1)) - 1) + self.c_sigma
        self.c_c = (4 + m / n) / (n + 4 + 2 * m / n)
        self.c_1 = 2 / ((n + 1.3) ** 2 + m)
        self.c_mu = min(1 - self.c_1, 2 * (m - 2 + 1 / m) / ((n + 2) ** 2 + m))
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))
        self.p_sigma, self.p_c = np.zeros(n), np.zeros(n)
        self.cov = np.eye(n)
        self.rng = np.random.default_rng(seed)
        self.generation = 0
        self.best_x, self.best_f = self.mean.copy(), np.inf
        self.stopped = False
        self._eig()

    def _eig(self):
        eigval, self.basis = np.linalg.eigh(self.cov)
        self.d = np.sqrt(np.maximum(eigval, 1e-20))

    def ask(self) -> np.ndarray:
        z = self.rng.standard_normal((self.lam, self.n))
        self._y = z @ (self.basis * self.d).T  # y ~ N(0, C)
        return self.mean + self.sigma * self._y

    def tell(self, x, f) -> None:
        f = np.asarray(f, dtype=float)
        f = np.where(np.isfinite(f), f, np.inf)
        y = (np.asarray(x, dtype=float) - self.mean) / self.sigma
        k = int(np.argmin(f))
        if f[k] < self.best_f:
            self.best_f, self.best_x = float(f[k]), np.array(x[k], dtype=float)
        order = np.argsort(f, kind="stable")[: self.mu]
        y_w = self.w @ y[order]
        self.mean = self.mean + self.sigma * y_w
        n, cs, cc, m = self.n, self.c_sigma, self.c_c, self.mu_eff
        c_inv_sqrt_yw = self.basis @ ((self.basis.T @ y_w) / self.d)
        self.p_sigma = (1 - cs) * self.p_sigma + math.sqrt(cs * (2 - cs) * m) * c_inv_sqrt_yw
        self.generation += 1
        norm = np.linalg.norm(self.p_sigma) / math.sqrt(1 - (1 - cs) ** (2 * self.generation))
        h_sigma = float(norm < (1.4 + 2 / (n + 1)) * self.chi_n)
        self.p_c = (1 - cc) * self.p_c + h_sigma * math.sqrt(cc * (2 - cc) * m) * y_w
        rank_mu = (y[order].T * self.w) @ y[order]
        delta = (1 - h_sigma) * cc * (2 - cc)
        self.cov = (
            (1 - self.c_1 - self.c_mu) * self.cov
            + self.c_1 * (np.outer(self.p_c, self.p_c) + delta * self.cov)
            + self.c_mu * rank_mu
        )
        self.cov = 0.5 * (self.cov + self.cov.T)
        self.sigma *= math.exp(
            (cs / self.d_sigma) * (np.linalg.norm(self.p_sigma) / self.chi_n - 1)
        )
        self._eig()
        self.stopped = bool(self.sigma * np.max(self.d) < 1e-10)


def cma_es(
    f: Callable[[np.ndarray], np.ndarray],
    mean: np.ndarray,
    sigma: float,
    *,
    generations: int,
    population: int | None = None,
    seed: int = 0,
    callback: Callable | None = None,
):
    """Minimise `f` with CMA-ES (`CMAES`: full covariance, Hansen's default parameters).

    `f` maps a population `(λ, n)` to losses `(λ,)` (one batched call per generation;
    non-finite losses rank last). Returns `(xs, fs)`: every point evaluated and its loss,
    `(generations·λ, n)` and `(generations·λ,)` (fewer if it stopped early: step size
    collapsed, or `callback(g, best_f, sigma)` returned `True`).
    """
    es = CMAES(mean, sigma, population=population, seed=seed)
    xs_all, fs_all = [], []
    for g in range(generations):
        x = es.ask()
        fx = np.asarray(f(x), dtype=float)
        es.tell(x, fx)
        xs_all.append(x)
        fs_all.append(np.where(np.isfinite(fx), fx, np.inf))
        if callback is not None and callback(g, es.best_f, es.sigma):
            break
        if es.stopped:
            break
    return np.concatenate(xs_all), np.concatenate(fs_all)


class GlobalSearch(AbstractStrategy):
    """A gradient-free global stage: CMA-ES (`cma_es`, full covariance, Hansen's default
    parameters) in the unconstrained coordinates of the constraints, centred on start 0
    with step size `sigma` (for `Positive` parameters `u` is ~log p: `sigma = 0.5` is a
    spread of about ±40 %); each generation's population is one vmapped simulation. Its
    `n_starts` best points (over all generations) start the gradient descent.

    - `generations`: generations of CMA-ES (it stops earlier once the step size
      collapses); `seed`: its random numbers.
    - `population`: λ. Default `max(16, 4 + ⌊3 ln n⌋)`: Hansen's default `4 + ⌊3 ln n⌋`
      (6 for two parameters) is tuned for local convergence, and on spiking traces it
      collapsed into local minima (HH `g_na, g_k` from (60, 54) and (240, 15): both
      failed with λ = 6, both found the basin with λ = 16; larger populations are more
      global on multimodal functions, Hansen & Kern 2004).

    Cost: `generations × population` simulations (without gradients).
    """

    generations: int = 30
    population: int | None = None
    sigma: float = 0.5
    seed: int = 0

    def __check_init__(self):
        if (
            isinstance(self.generations, bool)
            or not isinstance(self.generations, int)
            or self.generations < 1
        ):
            raise ValueError(
                f"GlobalSearch: generations must be an integer >= 1, got {self.generations!r}."
            )
        if self.population is not None and (
            not isinstance(self.population, int) or self.population < 2
        ):
            raise ValueError(
                f"GlobalSearch: population must be an integer >= 2, got {self.population!r}."
            )
        check_positive("GlobalSearch", "sigma", self.sigma)
        _check_int("GlobalSearch", "seed", self.seed, 0)

    def _run(self, ctx, state):
        t0 = time.perf_counter()
        obj = state.obj
        starts = _starts_of(ctx, state)
        u0 = obj.to_unconstrained([s[0] for s in starts])
        dtype = jnp.result_type(float)
        shapes = [jnp.shape(x) for x in u0]
        sizes = [int(np.prod(s)) for s in shapes]
        mean = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in u0])

        def unflatten(x):  # (λ, n) -> list of (λ, *shape)
            out, i = [], 0
            for shape, size in zip(shapes, sizes, strict=True):
                out.append(jnp.asarray(x[:, i : i + size].reshape(len(x), *shape), dtype))
                i += size
            return out

        def f(x):
            return np.asarray(_losses_of(obj, unflatten(x)))

        every = max(1, self.generations // 5)

        def progress(g, best, sigma):
            if (g + 1) % every == 0 or g == 0:
                ctx.progress_meter.write(
                    f"GlobalSearch (CMA-ES) generation {g + 1}/{self.generations}  best "
                    f"{best:.4g}  sigma {sigma:.3g}  ({time.perf_counter() - t0:.1f} s)"
                )

        xs, fs = cma_es(
            f,
            mean,
            float(self.sigma),
            generations=int(self.generations),
            population=self.population or max(16, 4 + int(3 * math.log(mean.size))),
            seed=int(self.seed),
            callback=progress,
        )
        order = np.argsort(fs, kind="stable")
        picked = []
        for i in order:
            if not any(np.array_equal(xs[i], xs[j]) for j in picked):
                picked.append(i)
            if len(picked) == ctx.n_starts:
                break
        while len(picked) < ctx.n_starts:  # fewer distinct points than starts
            picked.append(picked[0])
        best_u = unflatten(xs[np.asarray(picked)])
        params = jax.vmap(obj.from_unconstrained)(best_u)
        state.starts = [jnp.asarray(p) for p in jtu.tree_leaves(params)]
        vals = ", ".join(f"{float(p[0]):.4g}" for p in state.starts)
        note = f"{len(fs)} evaluations; best ({vals})"
        ctx.progress_meter.write(f"fit: GlobalSearch: best loss {fs[order[0]]:.4g}; {note}")
        state.stages.append(_report("GlobalSearch", fs[order[0]], len(fs), t0, note))
        return state
