"""Spike-clamped fits of reset models (integrate-and-fire, Izhikevich) to voltage traces.

Why a reset model's trace MSE defeats gradient descent (measured, docs/fitting.md,
"Integrate-and-fire models from spiking sweeps"): the simulated spikes happen at whole
steps, so the trace MSE is piecewise smooth in the parameters, with a jump each time a
spike moves by one step; across a jump the trace after it changes by the reset's size
(15–95 mV), and the gradient, exact within a piece (the reset is detached), sees none of
it. From starts 30–50 % off the simulated spikes are far from the recorded ones and the
descent ends in whichever piece it started in.

The remedy: where the recording shows its spikes (the resets are its largest downward
jumps, `reset_steps`), simulate the model with its spikes *clamped* to the recorded ones
(`SpikeClamped`): a reset at each recorded spike step, none elsewhere (the voltage capped
just below the threshold). Between recorded spikes that trajectory is the model's own
subthreshold dynamics from the recorded reset, so its trace MSE against the recording is
a smooth function of the parameters everywhere (no spike can move), with its minimum at
the truth on the simulator's own data (the same solver at the same steps: identical to
the free run there). Hidden variables (AdEx's `w`, Izhikevich's `u`) are simulated as in
the free run, with their jumps at the recorded spikes.

From a far start the clamped trajectory itself can run away (AdEx with `v_rest` above
`v_t`: V sits at the cap between spikes, and the gradient is 0 there), so a first stage
also *teacher-forces* the voltage: every `every` steps V is set to the recorded value,
and the loss compares the model's predictions from there (`SpikeClamped(every=k)`; the
hidden variables still integrate along the forced V). Its minimum is biased by the
measurement noise of the forced values (errors in variables), the second stage's (no
forcing) is not; `fit`'s final descent on the user's loss then starts inside the truth's
piece. `Auto` runs both (`clamped_estimate`). For AdEx, whose far starts (E_L above V_T)
run away, a data-driven estimate from the recorded trace and resets
(`_adex_estimate.adex_from_voltage`) is screened against the starts before the stages.

Within the recorded spike train's piece the trace MSE's least-squares point can lie on the
piece's boundary (a spike whose upswing only just crosses the threshold), where the
hinge-penalised spike-timed stage stops short; a last stage solves that constrained
problem directly (`constrained_timing`: Gauss–Newton under the linearised spike-time
constraints `g`, in float64 for a float32 model, with a margin that keeps the float32
free run on the recorded spikes).
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._model import AbstractModel, Elementwise, parameter_domains
from .._saveat import SaveAt
from ..neurons import Izhikevich
from ..neurons._integrate_and_fire import AbstractIntegrateAndFire
from ._adex_estimate import NOISE_FREE
from ._data_driven import noise_sd
from ._losses import TraceMSE
from ._polish import _to_float64
from ._transforms import Unconstrained

RESET_NOISE_FACTOR = 6.0
"""A downward jump between consecutive samples counts as a reset (a recorded spike) when
it exceeds `RESET_NOISE_FACTOR·√2·σ̂` (σ̂: `noise_sd` of the trace; the difference of two
noisy samples has s.d. √2·σ̂, so white noise crosses it with P ≈ 1e-9 per sample),
`RESET_MIN_JUMP` and `RESET_LARGEST_FRACTION` of the largest downward jump of the
recording (a reset model's subthreshold trace falls by much less per step than its
reset). Was 8 (P < 1e-15), which missed resets: a LIF reset is 15 mV, 8·√2 = 11.3 mV at
1 mV noise, 2.6 s.d. of the difference below it — measured over 200 draws of the LIF
sweeps of `validation/fit_success_rates.py` at 1 mV, 15 of 2400 resets missed (start 7
of that study: 11 of 12 spikes found, the fit τ ×34, `ABOVE_NOISE`), 0 at 6, and no false
reset at 6 in 600 traces (LIF, AdEx, Izhikevich; 1, 1.5, 2 mV; 3000–8000 samples each)."""

RESET_LARGEST_FRACTION = 0.25
"""See `RESET_NOISE_FACTOR`: AdEx's resets drop 31.6–55.4 mV on its own sweeps (the
sample before a reset lies anywhere on the upswing), so half the largest (0.5, as
before) missed 3 of 5000 at 1 mV and 99 at 2 mV (200 draws); 0.3 missed none. The
largest drop that is no reset was 0.35 mV (AdEx), 0.94 mV (Izhikevich), noise-free."""

RESET_MIN_JUMP = 2.0
"""mV: the smallest downward jump counted as a reset (on a noise-free trace)."""

RATE_LIMIT = 1e6
"""mV/ms: the largest |dV/dt| a spike-clamped simulation integrates (`SpikeClamped`)."""

CAP = 1e-3
"""mV: between recorded spikes a spike-clamped V is capped this far below `v_th`."""

HINGE_WEIGHT = 1e6
"""Weight of the threshold violations `h` (mV²) against the voltage residuals in the
clamped loss: the recorded spike steps are known exactly, and a free run whose spikes
move by a step costs (reset size)² on the rows after it, so violations must cost more
than the noise of the voltage residuals (measured, LIF 1 mV: weight 1 left the estimate
in a neighbouring piece, 2.2 mV² against the truth's 1.0)."""

HINGE_MARGIN = 1e-3
"""mV: the threshold violations `h` count from this far inside the threshold, so that the
small violations left by a finite `HINGE_WEIGHT` (LIF, 1 mV noise, weight 10⁴: up to
1.2e-3 mV) still give the free run the recorded spikes."""

HINGE_MAX = 10.0
"""mV: threshold violations `h` are the miss itself up to this, `HINGE_MAX·(1 + log(miss /
HINGE_MAX))` beyond (continuous, with derivative HINGE_MAX/miss): a free model that
crosses the threshold a step early runs away in that step (V tens to thousands of mV
above `v_th`); with `h` constant beyond HINGE_MAX (as before) such a crossing had no
gradient, and the spike-timed stage stopped with it (AdEx, 1 mV: 3 of 20 fits ended a
step off at a spike, 1.5 mV² against the noise's 1.0). A non-finite miss (an overflow)
counts `HINGE_INF`, without a derivative (`where`)."""

HINGE_INF = 1e3
"""mV: the threshold violation counted for a non-finite miss (see `HINGE_MAX`)."""


CONSTRAINT_MARGINS = (0.01, 0.04, 0.16)
"""The constrained spike-timed stage (`constrained_timing`) keeps the free model's V on
the recorded side of `v_th` at every step by this fraction of the step's own change
|V_new − V_old| (so that the float32 free run, which differs from the float64 stage by
rounding, fires at the recorded steps too: AdEx, 1 mV, the float32 and float64 V one step
before a spike 3.8e-3 mV apart, the next step 0.24 mV, that step's change 39 mV). The
first margin that gives the float32 free run the clamped loss is used (the next ones
from where the previous ended). Relative, not in mV: LIF crosses its threshold by
~0.1 mV per step, AdEx's upswing by tens to 10¹⁷."""

G_OVERFLOW = 30.0
"""The constraint value `g` (an asinh) counted for a non-finite V: satisfied at a
recorded spike where V ran away upwards, violated otherwise."""

VIOLATION_TOL = 1e-9
"""`constrained_timing` counts a constraint `g` (an asinh of mV, ≈ mV near 0) as
violated only below −this: float64 rounding of V and its margin leaves ~1e-15 (measured,
LIF 1 mV: violations 2e-15–6e-15 at every margin made the stage discard results 0.0009
mV² below the fit's, which had to be `viol == 0`); float32 resolves V near −50 mV to
4e-6 mV, so 1e-9 mV is no spike-time change the free run can see (the stage's result is
kept only where the free run's own loss agrees anyway)."""

CONSTRAINED_STEPS = 100
"""At most this many Gauss–Newton steps in `constrained_timing`."""

CONSTRAINED_SELECT = 20.0
"""mV: `constrained_timing` linearises the constraints of the steps within this of their
margin (the others cannot flip within a step that keeps the rest)."""

DELTA_T_STARTS = (0.93, 0.86)
"""Factors on the data-driven estimate's Δ_T: on a noisy trace the spike-clamped stage also
starts from the estimate with Δ_T times each (the rest as estimated), and keeps the best.
The projection's Δ_T is biased by the noise in V (errors in variables: +8 ± 5 % at 1 mV,
worst +17 %: `docs/fitting.md`); from 6.7 % too high the spike-clamped stage ended in a
local minimum (1.073 mV² against 0.984 from Δ_T = 2.0; AdEx 1 mV, start 6 of
`validation/fit_success_rates.py`), the final fit 0.0096 mV² above the truth's loss."""

CONSTRAINED = True
"""Whether `clamped_estimate` finishes with the constrained spike-timed stage
(`_constrained_stage`)."""

NOT_CLAMPED = ("v_th", "t_ref")
"""Trainable fields the clamped stages leave at their start: the threshold (the clamped
loss does not see it: spikes are where the recording has them) and the refractory period
(a whole number of steps, not differentiable)."""


def reset_steps(v) -> np.ndarray:
    """Where a reset model's recorded voltage `(n_steps, *batch)` shows a spike: a 0/1
    array like `v`, 1 at the rows whose value is right after a reset (a downward jump
    above `RESET_NOISE_FACTOR·√2·σ̂`, `RESET_MIN_JUMP` mV and `RESET_LARGEST_FRACTION`
    of the largest downward jump; see `RESET_NOISE_FACTOR`). Row 0 has no previous
    sample and is never a reset."""
    v = np.asarray(v, dtype=float)
    drop = np.zeros_like(v)
    drop[1:] = v[:-1] - v[1:]
    largest = float(np.max(drop)) if drop.size else 0.0
    threshold = max(
        RESET_NOISE_FACTOR * np.sqrt(2.0) * noise_sd(v),
        RESET_MIN_JUMP,
        RESET_LARGEST_FRACTION * largest,
    )
    return (drop > threshold).astype(v.dtype)


def is_reset_model(model) -> bool:
    """Whether `SpikeClamped` applies: an integrate-and-fire model or Izhikevich's (a
    threshold `v_th` and an event step that spikes and resets where V reaches it), without
    a `linear_part` of its own."""
    return isinstance(model, (AbstractIntegrateAndFire, Izhikevich)) and (
        type(model).linear_part is AbstractModel.linear_part
    )


class ClampState(NamedTuple):
    inner: tuple  # the model's own state
    v: jax.Array  # the recorded output: V after the step, before any teacher forcing, mV
    h: jax.Array  # how far the step's V is on the wrong side of v_th, mV (see event_step)
    g: jax.Array  # the spike-time constraint, >= 0 where the free model agrees (see event_step)


def record(y):
    """What the spike-timed stage compares (`SaveAt(fn=record)`): the voltage and the
    threshold violations `h` (compared with 0)."""
    return (y.v, y.h)


def record_g(y):
    """What the constrained spike-timed stage reads: the voltage and the constraints `g`."""
    return (y.v, y.g)


def record_v(y):
    """What the other clamped stages compare: the voltage."""
    return y.v


class SpikeClamped(AbstractModel):
    """`model` with its spikes clamped to a given spike train, and optionally its voltage
    teacher-forced to a recording.

    Inputs: `{"current": ..., "spikes": 0/1, "v": mV, "force": 0/1}`, each
    `(n_steps, *batch)`. At a step where `spikes` is 1 the model's own event step spikes
    and resets (jumps of hidden variables included); elsewhere it does not (V capped `CAP`
    mV below `v_th`). After a step where `force` is 1, V is set to `v` (the recording at
    that row) for the next step; the recorded output (`voltage`) is V before that, so the
    loss compares predictions. The vector field, the solver and everything else are the
    model's; |dV/dt| is limited to `RATE_LIMIT` (a far-off AdEx point overflows the
    upswing's exponential; on the model's own data no recorded row changes: a step from a
    V that fast ends beyond the threshold, at the recorded spike).

    `model`: a reset model (`is_reset_model`): `neurojax.LIF`, `AdEx`, `EIF`,
    `Izhikevich`, ..."""

    model: AbstractModel
    structure = Elementwise()

    def __check_init__(self):
        if not is_reset_model(self.model):
            raise TypeError(
                f"SpikeClamped needs an integrate-and-fire model or Izhikevich's, got "
                f"{type(self.model).__name__}."
            )

    @property
    def default_solver(self):
        from ..solvers import default_solver

        return default_solver(self.model)

    def init_state(self, batch_shape=()):
        y = self.model.init_state(batch_shape)
        return ClampState(inner=y, v=y.v, h=jnp.zeros_like(y.v), g=jnp.zeros_like(y.v))

    def init_discrete(self, batch_shape=()):
        return self.model.init_discrete(batch_shape)

    def vector_field(self, t, y, inputs):
        f = self.model.vector_field(t, y.inner, inputs["current"])
        # `where`, not `clip`: the derivative of `min`/`max` multiplies the tangent by a
        # 0/1 mask, which turns the infinite tangent of an overflow into NaN
        ok = jnp.abs(f.v) < RATE_LIMIT  # False for inf and NaN
        dv = jnp.where(ok, f.v, jnp.where(f.v < 0, -RATE_LIMIT, RATE_LIMIT)).astype(f.v.dtype)
        zero = jnp.zeros_like(y.v)
        return ClampState(inner=f._replace(v=dv), v=zero, h=zero, g=zero)

    def voltage(self, y):
        return y.v

    def batch_shape(self, inputs):
        return self.model.batch_shape(inputs["current"])

    def check_call(self, inputs, dt):
        return self.model.check_call(inputs["current"], dt)

    def event_step(self, info, y_old, y_new, z, inputs):
        v_th = self.model.v_th
        spike = inputs["spikes"] > 0
        v_new = y_new.inner.v
        # `where` throughout, not min/max/relu: their derivatives multiply the tangent by
        # a 0/1 mask, which turns the infinite tangent of a run-away V into NaN
        # at a recorded spike V must reach v_th itself (the model spikes at `v >= v_th`),
        # not only the cap: a V within CAP below v_th there (measured, LIF 1 mV, start 0
        # of `validation/fit_success_rates.py`: −50.00099 mV, v_th −50) did not spike,
        # and the clamped V then sat at the cap for the 200 steps to the next recorded
        # spike (clamped MSE 5.47 mV² against the truth's 1.02)
        above = v_new >= v_th - CAP
        v = jnp.where(
            spike, jnp.where(v_new >= v_th, v_new, v_th + 1.0), jnp.where(above, v_th - CAP, v_new)
        )
        # the spike times are data too: at a recorded spike the free model's V must have
        # reached v_th, elsewhere not. `h` is by how much it misses (0 at the truth),
        # linear up to HINGE_MAX, logarithmic beyond (see HINGE_MAX)
        miss = jnp.where(spike, v_th + HINGE_MARGIN - v_new, v_new - v_th + HINGE_MARGIN)
        big = jnp.isfinite(miss) & (miss >= HINGE_MAX)
        tail = HINGE_MAX * (1.0 + jnp.log(jnp.where(big, miss, HINGE_MAX) / HINGE_MAX))
        h = jnp.where(
            miss <= 0,
            0.0,
            jnp.where(miss < HINGE_MAX, miss, jnp.where(big, tail, HINGE_INF)),
        )
        # the same condition as a smooth constraint (`constrained_timing`): asinh of the
        # margin by which the free model agrees with the recorded spike train at this step
        # (a margin inside the threshold: CONSTRAINT_MARGINS), >= 0 where it does
        # margin: a fraction of the step's own change (see CONSTRAINT_MARGINS)
        margin = inputs["margin"] if "margin" in inputs else CONSTRAINT_MARGINS[0]
        step = jnp.abs(v_new - y_old.inner.v)
        d = jnp.where(spike, v_new - v_th - margin * step, v_th - v_new - margin * step)
        g = jnp.where(
            jnp.isfinite(d),
            jnp.arcsinh(jnp.where(jnp.isfinite(d), d, 0.0)),
            jnp.where(spike & (v_new > v_th), G_OVERFLOW, -G_OVERFLOW),
        )
        inner, z, events = self.model.event_step(
            info, y_old.inner, y_new.inner._replace(v=v), z, inputs["current"]
        )
        out = inner.v
        forced = jnp.where(inputs["force"] > 0, inputs["v"].astype(out.dtype), out)
        state = ClampState(
            inner=inner._replace(v=forced), v=out, h=h.astype(out.dtype), g=g.astype(out.dtype)
        )
        return state, z, events


# ---------------------------------------------------------------- the estimate


@dataclasses.dataclass(frozen=True)
class _Inner:
    """`trainable` of the wrapped model, restricted to the leaves `idx` (hashable)."""

    trainable: object
    idx: tuple

    def __call__(self, w):
        leaves = jtu.tree_leaves(self.trainable(w.model))
        return tuple(leaves[i] for i in self.idx)


def force_rows(spikes, every: int) -> np.ndarray:
    """0/1 like `spikes`: 1 every `every` rows (not at spike rows); all 0 for `every=0`."""
    force = np.zeros_like(spikes)
    if every:
        force[every - 1 :: every] = 1
        force[spikes > 0] = 0
    return force


def applies(obj) -> str | None:
    """`None` where the clamped estimate applies to `obj`, else why not."""
    if not is_reset_model(obj.model):
        return f"{type(obj.model).__name__} is not an integrate-and-fire model"
    if obj.target.v is None:
        return "the target has no voltage trace"
    if obj.saveat.every != 1 or obj.saveat.fn is not None:
        return "the target is not the voltage at every step"
    if not isinstance(obj.inputs, jax.Array) or np.shape(obj.target.v) != np.shape(obj.inputs):
        return "the inputs are not one current array shaped like the trace"
    if not reset_steps(obj.target.v).any():
        # subthreshold: the clamped model is the model, nothing to gain
        return "the recording shows no spikes (no reset)"
    return None


def clamped_estimate(obj, starts, *, descend, every: int, estimate: bool = True):
    """The clamped stages by Levenberg–Marquardt from `starts` (constrained values per
    selected leaf, a leading `n_starts` axis):

    1. *teacher-forced*: V set to the recording every `every` steps (robust to far starts
       whose clamped trajectory runs away between spikes, biased by noise);
    2. *spike-clamped*: free between the recorded spikes (the unbiased clamped MSE), from
       both the start and stage 1's result (vmapped), keeping the better of each pair
       (stage 1 can end where the clamped MSE has a local minimum: AdEx, 8 parameters,
       noise-free, from one start 0.2 mV² there against 2e-8 from the start itself);
    3. *spike-timed*: the same plus the threshold violations `h` weighted by
       `HINGE_WEIGHT`, so that the free model fires at the recorded steps (stage 2 alone
       left LIF at 1 mV noise a step off at some spikes: 2.2 mV² in the free run against
       the truth's 1.0);
    4. *constrained spike-timed* (`CONSTRAINED`, the best start only): Gauss–Newton on
       the clamped voltage residuals under the spike-time constraints `g >= 0`
       linearised per step (`constrained_timing`; float64 for a float32 model), kept
       where the free model's own loss is lower there (`_constrained_stage`): stage 3's
       penalty stops short where the least-squares point lies on the boundary of the
       recorded spike train's piece (AdEx, 1 mV: 0.01 mV² above the truth's loss).

    Before them, where `estimate` and the model is an `AdEx`, the data-driven estimate
    (`adex_from_voltage`: variable projection on the recorded trace, no simulation)
    competes with the starts: all are screened by the spike-clamped MSE (one vmapped
    simulation) and the best `n_starts` go on (`_with_estimate`); on a noisy trace stage 2
    also starts from the estimate with its Δ_T corrected for its bias (`DELTA_T_STARTS`),
    an extra candidate replacing the worst pick where its clamped MSE is lower.

    Returns `(starts, best_params, notes, n_simulations)`: every start's result, the best
    one's parameters (structured like `trainable(model)`), a note per stage and the
    simulations spent. Leaves named in `NOT_CLAMPED` keep their values.

    `descend(obj, u0, label) -> _Descent` runs one descent (the caller's settings)."""
    from ._objective import make_objective

    leaves0 = jtu.tree_leaves(obj.params0)
    idx = tuple(j for j, name in enumerate(obj.names) if name.split(".")[-1] not in NOT_CLAMPED)
    v = np.asarray(obj.target.v)
    spikes = reset_steps(v)
    dtype = jnp.result_type(leaves0[0])
    # parameters whose domain is the real line (AdEx's `a`, `b`, Izhikevich's `b`, `d`,
    # the voltages) move unconstrained here: under `Positive` (the default for a positive
    # start) a descent that pushes one to its floor cannot come back (AdEx, 1 mV noise:
    # `a` ended at 3e-10 from 7 of 10 starts, 33 mV²)
    domains = {name: d for name, _, d in parameter_domains(obj.model)}
    constraints = tuple(
        Unconstrained()
        if (d := domains.get(obj.names[j])) is not None and d.lower == -np.inf
        else None
        for j in idx
    )
    current = jnp.asarray(obj.inputs)
    n_cols = int(np.prod(v.shape[1:]))
    n_sim, notes = 0, []

    def make_sub(k, hinge, margin=None):
        # without the hinge, `h` is not recorded at all: a weight of 0 times the
        # derivative of a run-away V is NaN
        if hinge is None:  # the constrained stage: V and the constraints g, read raw
            target, loss, fn = (
                (jnp.asarray(v, dtype), jnp.zeros(v.shape, dtype)),
                TraceMSE(),
                record_g,
            )
        elif hinge:
            weights = jnp.concatenate([jnp.ones(n_cols), jnp.full(n_cols, hinge)]).astype(dtype)
            target, loss, fn = (
                (jnp.asarray(v, dtype), jnp.zeros(v.shape, dtype)),
                TraceMSE(weights=weights),
                record,
            )
        else:
            target, loss, fn = jnp.asarray(v, dtype), TraceMSE(), record_v
        inputs = {
            "current": current,
            "spikes": jnp.asarray(spikes, current.dtype),
            "v": jnp.asarray(v, current.dtype),
            "force": jnp.asarray(force_rows(spikes, k), current.dtype),
        }
        if margin is not None:
            inputs["margin"] = jnp.full(v.shape, margin, current.dtype)
        return make_objective(
            SpikeClamped(obj.model),
            inputs,
            target,
            saveat=SaveAt(fn=fn),
            loss=loss,
            dt=obj.dt,
            trainable=_Inner(obj.trainable, idx),
            constraints=constraints,
            solver=obj.solver,
        )

    def stage(label, k, hinge, values):
        nonlocal n_sim
        t0 = time.perf_counter()
        sub = make_sub(k, hinge)
        u = jax.vmap(sub.to_unconstrained)(tuple(values[j] for j in idx))
        u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
        try:
            d = descend(sub, u, f"{label} step")
        except FloatingPointError as e:  # a far start where even the clamped model fails
            notes.append(f"{label}: failed ({str(e).split(':')[1].strip()[:80]})")
            return values, np.full(int(values[0].shape[0]), np.inf)
        found = jax.vmap(sub.from_unconstrained)(jtu.tree_map(jnp.asarray, d.best_u))
        found = [np.asarray(x) for x in jtu.tree_leaves(found)]
        n_sim += int(d.n_evaluations.sum())
        values = list(values)
        for j, x in zip(idx, found, strict=True):
            values[j] = jnp.asarray(x, values[j].dtype)
        loss = np.where(np.isfinite(d.best_loss), d.best_loss, np.inf)
        notes.append(
            f"{label} ({f'every {k} steps' if k else 'free between spikes'}): "
            f"{len(d.losses)} LM steps ({d.stop_reason.value}), loss {np.min(loss):.6g} in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        return values, loss

    values = [jnp.asarray(x) for x in starts]
    n = int(values[0].shape[0])
    if estimate:
        values, screened, extra = _with_estimate(obj, values, idx, make_sub, notes)
        n_sim += screened
    else:
        extra = None
    if every:
        forced, _ = stage("teacher-forced", every, 0.0, values)
        parts = [forced, values] + ([extra] if extra is not None else [])
        both = [jnp.concatenate(xs) for xs in zip(*parts, strict=True)]
        both, loss = stage("spike-clamped", 0, 0.0, both)
        pick = np.where(loss[:n] <= loss[n : 2 * n], np.arange(n), n + np.arange(n))
        pick = _better_extra(pick, loss, 2 * n)
        values = [x[pick] for x in both]
    else:
        parts = [values] + ([extra] if extra is not None else [])
        both = [jnp.concatenate(xs) for xs in zip(*parts, strict=True)]
        both, loss = stage("spike-clamped", 0, 0.0, both)
        pick = _better_extra(np.arange(n), loss, n)
        values = [x[pick] for x in both]
        loss = loss[pick]
    values, loss = stage("spike-timed", 0, HINGE_WEIGHT, values)
    if CONSTRAINED:
        values, loss, spent = _constrained_stage(obj, values, loss, idx, make_sub, v, notes)
        n_sim += spent
    b = int(np.argmin(loss))
    best = jtu.tree_unflatten(obj.treedef, [x[b] for x in values])
    notes.insert(0, f"{int(spikes.sum())} recorded spikes")
    return values, best, notes, n_sim


@eqx.filter_jit
def _vmapped_losses(sub, u):
    f = jax.vmap(lambda x: sub(sub.from_unconstrained(x)).astype(jnp.result_type(float)))(u)
    return jnp.where(jnp.isfinite(f), f, jnp.inf)


def _with_estimate(obj, values, idx, make_sub, notes):
    """`values` (constrained leaves, leading `n_starts` axis) with AdEx's data-driven
    estimate as a further candidate, screened with them by the spike-clamped MSE: the
    best `n_starts` are kept. The estimate fills the leaves it knows (by field name, scalar
    leaves of the model itself); the others come from the best-screened start. Other
    models, and an estimate that fails, leave `values` as given (said in `notes`).
    Returns `(values, simulations spent)`."""
    from ..neurons import AdEx
    from ._adex_estimate import adex_from_voltage

    if type(obj.model) is not AdEx:
        return values, 0, None
    n = int(values[0].shape[0])
    try:
        est, info = adex_from_voltage(
            obj.target.v,
            obj.inputs,
            obj.dt,
            v_th=float(obj.model.v_th),
            t_ref=float(obj.model.t_ref),
        )
    except ValueError as e:
        notes.append(f"data-driven estimate failed ({e}); starts as given")
        return values, 0, None
    leaves = jtu.tree_leaves(obj.params0)
    cand = []
    used = []
    for j, x in enumerate(values):
        name = obj.names[j]
        if name in est and np.ndim(leaves[j]) == 0:
            cand.append(jnp.concatenate([x, jnp.asarray([est[name]], x.dtype)]))
            used.append(name)
        else:
            cand.append(jnp.concatenate([x, x[:1]]))
    if not used:
        return values, 0, None
    sub = make_sub(0, 0.0)
    u = jax.vmap(sub.to_unconstrained)(tuple(cand[j] for j in idx))
    u = jtu.tree_map(lambda x: x.astype(jnp.result_type(float)), u)
    losses = np.asarray(_vmapped_losses(sub, u))
    keep = np.argsort(losses, kind="stable")[:n]
    notes.append(
        f"data-driven estimate ({', '.join(f'{k} {est[k]:.4g}' for k in used)}; window "
        f"{info['window']} steps): spike-clamped MSE {losses[-1]:.4g} against "
        f"{np.min(losses[:-1]):.4g} at the best start; " + ("kept" if n in keep else "not kept")
    )
    extra = None
    if n in keep and "delta_t" in used and info["sigma"] >= NOISE_FREE and DELTA_T_STARTS:
        # the estimate with Δ_T corrected for its bias (see DELTA_T_STARTS)
        jd = obj.names.index("delta_t")
        extra = [jnp.repeat(x[n : n + 1], len(DELTA_T_STARTS), axis=0) for x in cand]
        extra[jd] = extra[jd] * jnp.asarray(DELTA_T_STARTS, extra[jd].dtype)
        notes.append(
            f"also from delta_t {', '.join(f'{float(x):.4g}' for x in extra[jd])} (the "
            "estimate's Δ_T corrected for its bias)"
        )
    return [x[keep] for x in cand], n + 1, extra


# ------------------------------------------------- the constrained spike-timed stage


def _split(y, n_rows, n_cols):
    y = y.reshape((n_rows, 2 * n_cols) + y.shape[1:])
    return y[:, :n_cols].reshape((n_rows * n_cols,) + y.shape[2:]), y[:, n_cols:].reshape(
        (n_rows * n_cols,) + y.shape[2:]
    )


def _unravel(x, shapes):
    u, i = [], 0
    for shp in shapes:
        size = int(np.prod(shp, dtype=int))
        u.append(x[i : i + size].reshape(shp))
        i += size
    return u


@eqx.filter_jit
def _g_values(sub, x, shapes):
    return jnp.ravel(sub.prediction(sub.from_unconstrained(_unravel(x, shapes))).v)


@eqx.filter_jit
def _g_jacobian(sub, x, shapes):
    def f(x):
        return _g_values(sub, x, shapes)

    basis = jnp.eye(x.size, dtype=x.dtype)
    return jax.vmap(lambda e: jax.jvp(f, (x,), (e,)), out_axes=(None, 1))(basis)


def _qp(a, b, g, c):
    """`argmin ½δᵀaδ + bᵀδ` subject to `gδ >= −c` (a small dense problem, SLSQP); where
    the constraints are infeasible (or SLSQP fails), the least-violation step of the
    elastic mode (`_elastic_qp`); `None` where that fails too."""
    from scipy.optimize import minimize

    try:
        free = np.linalg.solve(a, -b)
    except np.linalg.LinAlgError:
        return None
    if g.shape[0] == 0 or np.all(g @ free >= -c):
        return free
    cons = {"type": "ineq", "fun": lambda d: g @ d + c, "jac": lambda d: g}
    res = minimize(
        lambda d: 0.5 * d @ a @ d + b @ d,
        np.zeros_like(b),
        jac=lambda d: a @ d + b,
        constraints=[cons],
        method="SLSQP",
        options=dict(maxiter=200, ftol=1e-14),
    )
    if res.success and np.all(np.isfinite(res.x)):
        return res.x
    # the linearised constraints are infeasible (or SLSQP failed): the elastic mode
    return _elastic_qp(a, b, g, c)


ELASTIC_WEIGHTS = (1e2, 1e4, 1e6, 1e8)
"""The penalty weights of `_elastic_qp`'s feasibility phase, in turn, on the squared
violations of constraints normalised to unit gradients, against a Marquardt-scaled
quadratic (unit diagonal plus damping): at 1e8 a remaining violation costs 1e8 times
its square, so the step is the least-violation one to ~1e-8 of the objective's pull."""


def _elastic_qp(a, b, g, c):
    """The feasibility phase of `_qp` where its linearised constraints `gδ >= −c` are
    infeasible (measured: LIF 1 mV, a start a step off at a spike, with 200 rows of
    violated constraints whose gradients nearly vanish — SLSQP failed at every damping,
    and `constrained_timing` stopped where it started): `argmin ½δᵀaδ + bᵀδ + ρ/2·Σ
    min(0, gδ + c)²` for `ρ` in `ELASTIC_WEIGHTS` (an elastic / quadratic-penalty QP:
    a convex piecewise quadratic, minimised exactly by active-set Newton iterations on
    the violated rows), stopping at the first `ρ` whose step satisfies them all. The
    step lowers the linearised violation wherever that is possible; `constrained_timing`
    keeps it only where the nonlinear violation goes down. `None` where a solve fails."""
    d = None
    for rho in ELASTIC_WEIGHTS:
        try:
            d = np.linalg.solve(a, -b) if d is None else d
            act = None
            for _ in range(50):
                new = g @ d + c < 0
                if act is not None and np.array_equal(new, act):
                    break
                act = new
                d = np.linalg.solve(a + rho * g[act].T @ g[act], -b - rho * g[act].T @ c[act])
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(d)):
            return None
        if np.all(g @ d + c >= 0):
            break
    return d


def constrained_step(jr, r, jg, g, mu, select):
    """The damped Gauss–Newton step `δ` for the residuals `r` (Jacobian `jr`) under the
    linearised constraints `g + jg·δ >= 0` of the rows with `g < select` (a QP, `_qp`, in
    Marquardt-scaled coordinates, damping `mu` on the scaled diagonal); `None` where the QP
    fails."""
    h = jr.T @ jr
    grad = jr.T @ r
    scale = 1.0 / np.sqrt(np.maximum(np.diag(h), 1e-300))
    hs = h * scale[:, None] * scale[None, :]
    sel = (g < select) & np.all(np.isfinite(jg), axis=1)
    gs = jg[sel] * scale[None, :]
    norm = np.maximum(np.sqrt(np.sum(gs**2, 1)), 1e-300)
    z = _qp(hs + mu * np.eye(h.shape[0]), grad * scale, gs / norm[:, None], g[sel] / norm)
    return None if z is None else z * scale


def constrained_timing(sub, u0, target_v):
    """Gauss–Newton on the voltage residuals of the spike-clamped model (`sub`, recording
    `record_g`, in the caller's precision) from `u0` (unconstrained, one start), subject
    to the spike-time constraints `g >= 0` at every step (the free model fires at the
    recorded steps, a margin inside `v_th`: `CONSTRAINT_MARGINS`), linearised per step:
    each step solves the damped Gauss–Newton problem under the linearised constraints of the steps
    within `CONSTRAINED_SELECT` of their margin (a small QP), and is kept where it lowers
    the summed violation, or keeps it 0 and lowers the loss.

    Why (measured, AdEx 1 mV): the trace MSE's least-squares point inside the recorded
    spike train's piece can lie on its boundary (a spike whose upswing just reaches
    `v_th`: 7.8 mV past it at the truth), and the hinge-penalised stage ends short of it
    (penalty Levenberg–Marquardt slides along the exponential boundary in tiny steps:
    0.01 mV² above the truth's loss, 100 in χ² units).

    Returns `(u, loss, loss at u0, violation, n_steps, n_simulations)`."""
    shapes = tuple(tuple(np.shape(a)) for a in u0)
    x = jnp.concatenate([jnp.ravel(jnp.asarray(a)) for a in u0])
    tv = np.asarray(target_v, dtype=float)
    n_rows, n_cols = tv.shape[0], int(np.prod(tv.shape[1:], dtype=int))
    tv = tv.reshape(-1)
    select = np.arcsinh(CONSTRAINED_SELECT)

    def summary(y):
        vv, g = _split(np.asarray(y, dtype=float), n_rows, n_cols)
        r = vv - tv
        loss = float(np.mean(r**2)) if np.all(np.isfinite(r)) else np.inf
        miss = -np.where(np.isfinite(g), g, -G_OVERFLOW)
        viol = float(np.sum(np.where(miss > VIOLATION_TOL, miss, 0.0)))
        return r, g, loss, viol

    y, jac = _g_jacobian(sub, x, shapes)
    n_sim, steps = x.size + 1, 0
    r, g, loss, viol = summary(y)
    loss0 = loss
    mu, small = 1e-3, 0
    while steps < CONSTRAINED_STEPS:
        steps += 1
        jr, jg = _split(np.asarray(jac, dtype=float), n_rows, n_cols)
        if not (np.all(np.isfinite(jr)) and np.isfinite(loss)):
            break
        accepted = False
        while mu < 1e10:
            delta = constrained_step(jr, r, jg, g, mu, select)
            if delta is None:
                mu *= 4.0
                continue
            x_new = x + jnp.asarray(delta, x.dtype)
            y_new = _g_values(sub, x_new, shapes)
            n_sim += 1
            r_new, g_new, loss_new, viol_new = summary(y_new)
            if (viol > 0 and viol_new < viol) or (viol_new == 0 and loss_new < loss):
                accepted = True
                break
            mu *= 4.0
        if not accepted:
            break
        gain = (loss - loss_new) / max(loss, 1e-300)
        x, r, g, loss, viol = x_new, r_new, g_new, loss_new, viol_new
        mu = max(mu / 3.0, 1e-9)
        small = small + 1 if (viol == 0 and gain < 1e-9) else 0
        if small >= 3:
            break
        y, jac = _g_jacobian(sub, x, shapes)
        n_sim += x.size + 1
    return _unravel(x, shapes), loss, loss0, viol, steps, n_sim


def _better_extra(pick, loss, first):
    """`pick` (indices into `loss`, one per start) with the extra candidates (`loss`
    from `first` on) each replacing the worst pick where it is better."""
    pick = np.array(pick)
    for k in first + np.argsort(loss[first:], kind="stable"):
        w = int(np.argmax(loss[pick]))
        if loss[k] < loss[pick[w]]:
            pick[w] = k
    return pick


def _constrained_stage(obj, values, loss, idx, make_sub, v, notes):
    """The best start of `values` through `constrained_timing` (in float64 for a float32
    model), with the margins `CONSTRAINT_MARGINS` in turn until the free model's own loss
    (`obj`, the caller's precision) agrees with the clamped one (the same spikes); kept
    where that is below the free loss at the start. Returns `(values, loss,
    simulations)`."""
    t0 = time.perf_counter()
    b = int(np.argmin(loss))
    float64 = jnp.result_type(jtu.tree_leaves(obj.params0)[0]) == jnp.float32
    leaves = [x[b] for x in values]
    f_old = float(obj(jtu.tree_unflatten(obj.treedef, leaves)))
    n_sim, said, best = 1, [], None
    current = [leaves[j] for j in idx]
    for margin in CONSTRAINT_MARGINS:
        sub = make_sub(0, None, margin)
        with jax.enable_x64(float64):
            if float64:
                sub = jtu.tree_map(_to_float64, sub)
            u0 = sub.to_unconstrained(tuple(_to_float64(x) if float64 else x for x in current))
            u0 = [x.astype(jnp.result_type(float)) for x in u0]
            try:
                u, c_loss, _, viol, steps, spent = constrained_timing(sub, u0, v)
            except FloatingPointError as e:
                said.append(f"margin {margin:g}: failed ({str(e)[:80]})")
                break
            found = [np.asarray(x) for x in jtu.tree_leaves(sub.from_unconstrained(u))]
        n_sim += spent + 1
        new = list(leaves)
        for j, x in zip(idx, found, strict=True):
            new[j] = jnp.asarray(x, values[j].dtype)
        f_new = float(obj(jtu.tree_unflatten(obj.treedef, new)))
        said.append(
            f"margin {margin:g}: {steps} steps, clamped {c_loss:.6g} (violation {viol:.2g}), "
            f"free {f_new:.6g}"
        )
        current = [new[j] for j in idx]
        if viol == 0 and np.isfinite(f_new) and abs(f_new - c_loss) <= 1e-3 * c_loss:
            best = (new, f_new)
            break
    keep = best is not None and best[1] < f_old
    notes.append(
        f"constrained spike-timed{' (float64)' if float64 else ''}: free loss {f_old:.6g} "
        f"at the start; {'; '.join(said)}; {'kept' if keep else 'not kept'} in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    if keep:
        values = [x.at[b].set(best[0][j]) if j in idx else x for j, x in enumerate(values)]
        loss = np.array(loss, dtype=float)
        loss[b] = -np.inf  # still the best start
    return values, loss, n_sim


# ------------------------------------------- stationarity at the edge of a spike train


EDGE_MARGIN = 0.0
"""The margin of the spike-time constraints in `edge_stationarity`: 0, the piece's own
boundary (the free model fires at `v >= v_th`)."""

ACTIVE = 0.01
"""mV: `edge_stationarity` reports the steps whose V is this close to `v_th` (its
constraints `g`, an asinh of mV, are ≈ mV there) as the nearly active ones."""


def edge_stationarity(obj, params):
    """Is `params` a least-squares minimum of `obj`'s trace MSE inside the piece of
    parameter space where the free model fires at the recorded steps — also where that
    minimum lies on the piece's boundary (a spike about to move by a step), where the
    interior test (`POLISH_SE`: the unconstrained Gauss–Newton step) fails because the
    gradient there is balanced by the spike-time constraints, not 0?

    The first-order (KKT) test of that constrained problem: the Gauss–Newton step under
    the linearised spike-time constraints `g >= 0` (`constrained_step`, undamped, the
    constraints of `SpikeClamped` with margin `EDGE_MARGIN`), measured in standard errors
    of the parameters like `POLISH_SE` (`‖Jδ‖/σ̂`, σ̂² = Σr²/n): 0 at a constrained
    minimum (interior or on the edge), longer where the fit stopped short. And, as the
    edge is only a minimum of the trace MSE if crossing it does not pay, the free model's
    own loss at the unconstrained Gauss–Newton step (which crosses the edge) must not be
    below the loss at `params`.

    `obj`: a plain `TraceMSE` objective of a reset model on its voltage at every step
    (`applies`), no trainable in `NOT_CLAMPED`; `params` like `obj.params0`. Returns
    `None` where the test does not apply, else a dict: `se` (the constrained step in
    standard errors; `inf` where the free model does not fire at the recorded steps, or
    the step cannot be solved), `se_free` (the unconstrained step's), `n_active`
    (steps whose V is within `ACTIVE` of `v_th`: the constraints nearly active), `loss`,
    `loss_across` (the free loss at the unconstrained step), `n_simulations`, `note`."""
    from ._objective import make_objective
    from ._polish import gauss_newton_standard_errors

    if applies(obj) is not None or type(obj.loss) is not TraceMSE:
        return None
    if obj.loss.window is not None or obj.loss.weights is not None:
        return None
    if any(name.split(".")[-1] in NOT_CLAMPED for name in obj.names):
        return None
    v = np.asarray(obj.target.v)
    spikes = reset_steps(v)
    leaves = jtu.tree_leaves(params)
    loss = float(obj(params))
    free = obj.simulate(params)
    if not np.array_equal(np.asarray(free.spikes) > 0, spikes > 0):
        return dict(se=np.inf, se_free=np.inf, n_active=0, loss=loss, loss_across=np.nan,
                    n_simulations=2,
                    note="the free model does not fire at the recorded steps")  # fmt: skip
    dtype = jnp.result_type(leaves[0])
    float64 = dtype == jnp.float32
    domains = {name: d for name, _, d in parameter_domains(obj.model)}
    constraints = tuple(
        Unconstrained() if (d := domains.get(name)) is not None and d.lower == -np.inf else None
        for name in obj.names
    )
    current = jnp.asarray(obj.inputs)
    inputs = {
        "current": current,
        "spikes": jnp.asarray(spikes, current.dtype),
        "v": jnp.asarray(v, current.dtype),
        "force": jnp.zeros(v.shape, current.dtype),
        "margin": jnp.full(v.shape, EDGE_MARGIN, current.dtype),
    }
    sub = make_objective(
        SpikeClamped(obj.with_params(params)),
        inputs,
        (jnp.asarray(v, dtype), jnp.zeros(v.shape, dtype)),
        saveat=SaveAt(fn=record_g),
        loss=TraceMSE(),
        dt=obj.dt,
        trainable=_Inner(obj.trainable, tuple(range(len(leaves)))),
        constraints=constraints,
        solver=obj.solver,
    )
    n_rows, n_cols = v.shape[0], int(np.prod(v.shape[1:], dtype=int))
    with jax.enable_x64(float64):
        if float64:
            sub = jtu.tree_map(_to_float64, sub)
        u = sub.to_unconstrained(tuple(_to_float64(x) if float64 else x for x in leaves))
        u = [jnp.asarray(x, jnp.result_type(float)) for x in u]
        shapes = tuple(tuple(np.shape(a)) for a in u)
        x = jnp.concatenate([jnp.ravel(a) for a in u])
        y, jac = _g_jacobian(sub, x, shapes)
        vv, g = _split(np.asarray(y, dtype=float), n_rows, n_cols)
        jr, jg = _split(np.asarray(jac, dtype=float), n_rows, n_cols)
        r = vv - np.ravel(v.astype(float))
        select = np.arcsinh(CONSTRAINED_SELECT)
        ok = np.all(np.isfinite(jr)) and np.all(np.isfinite(r))
        delta = constrained_step(jr, r, jg, g, 0.0, select) if ok else None
        try:
            free_step = np.linalg.lstsq(jr, -r, rcond=None)[0] if ok else None
        except np.linalg.LinAlgError:
            free_step = None
        rr = float(r @ r) if ok else np.inf
        se = (
            np.inf
            if delta is None
            else gauss_newton_standard_errors(rr, float(np.linalg.norm(jr @ delta)), r.size)
        )
        se_free = (
            np.inf
            if free_step is None
            else gauss_newton_standard_errors(rr, float(np.linalg.norm(jr @ free_step)), r.size)
        )
        across = None
        if free_step is not None:
            across = [np.asarray(a) for a in sub.from_unconstrained(
                _unravel(x + jnp.asarray(free_step, x.dtype), shapes))]  # fmt: skip
    n_sim = 3 + x.size
    loss_across = np.nan
    if across is not None:
        p_across = jtu.tree_unflatten(
            jtu.tree_structure(params),
            [jnp.asarray(a, jnp.asarray(b).dtype) for a, b in zip(across, leaves, strict=True)],
        )
        loss_across = float(obj(p_across))
        n_sim += 1
    n_active = int(np.sum(np.abs(g) < ACTIVE))
    note = (
        f"Gauss–Newton step under the spike-time constraints {se:.2g} standard errors "
        f"({n_active} within {ACTIVE:g} mV of v_th, closest {float(np.min(g)):.2g}); "
        f"unconstrained {se_free:.2g}, free loss there "
        f"{loss_across:.6g} against {loss:.6g}"
    )
    return dict(se=float(se), se_free=float(se_free), n_active=n_active, loss=loss,
                loss_across=float(loss_across), n_simulations=n_sim, note=note)  # fmt: skip
