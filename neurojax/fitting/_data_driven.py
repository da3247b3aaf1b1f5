"""Data-driven initialisation: maximal conductances from a recorded voltage trace by
non-negative least squares (Huys, Ahrens & Paninski 2006, J Neurophysiol 96:872).

With V(t) known, every gate of a conductance-based model obeys a *linear* ODE driven by
the known V, `dx/dt = a(V) − k(V)·x`, so the gates follow from V alone (integrated here
exactly for V held at each step's midpoint: exponential Euler). The maximal conductances
then enter the current balance `c_m dV/dt = I − I_ion(V, gates; g)` linearly, so they are
the solution of a (small) non-negative least-squares problem.

That regression is the ODE's, not the simulator's: on a trace that `simulate` itself
produced at the recording's `dt` it is off by the solver's discretisation error (HH,
ExponentialRK2 at 0.025 ms: 2–6 %), and `fit`, which uses the solver, would have to walk
that far. So the estimate is then made consistent with the solver `fit` uses (indirect
inference): the regression's bias is measured on the solver's own trace at the current
estimate and removed, iterated to a fixed point (a few simulations). On the simulator's
own data this is exact; the regression's behaviour under measurement noise is unchanged.
(A Gauss–Newton fit of the solver's teacher-forced one-step prediction is exact too, but
with 1 mV noise it was biased 20 % / 16 % / 130 % high on HH's g_na / g_k / g_l, against
the regression's −8 % / −8 % / −33 %: its residual is one-sided in the noisy V.)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import ArrayLike

from .._model import AbstractModel, parameter_domains
from .._simulate import simulate
from ..solvers import AbstractSolver, check_solver_fits, default_solver
from ._objective import _selection

REFINE_ITERATIONS = 8
"""At most this many Newton iterations (each one simulation with a batched JVP) make
`conductances_from_voltage`'s regression consistent with the solver
(`_solver_consistent`)."""

MAX_CONDUCTANCES = 12
"""The NNLS is solved exactly by enumerating the 2ⁿ candidate supports (active sets);
`conductances_from_voltage` accepts at most this many conductances (4096 small solves)."""


def _gate_fields(model, state) -> tuple[str, ...]:
    fields = getattr(type(state), "_fields", None)
    if fields is None or "v" not in fields:
        raise TypeError(
            f"{type(model).__name__}'s state is not a named tuple with a voltage field `v`; "
            "conductances_from_voltage needs a conductance-based point neuron "
            "(HodgkinHuxley, ReducedHH, MorrisLecar)."
        )
    return tuple(f for f in fields if f != "v")


def _check_model(model):
    missing = [
        name for name in ("membrane_current", "linear_part", "c_m") if not hasattr(model, name)
    ]
    if missing:
        raise TypeError(
            f"conductances_from_voltage needs a conductance-based model (one whose ionic "
            f"current is a sum of maximal conductances times gated driving forces, with "
            f"gates obeying linear ODEs at fixed V), such as HodgkinHuxley, ReducedHH or "
            f"MorrisLecar; {type(model).__name__} has no {', '.join(missing)}. For "
            f"integrate-and-fire models use neurojax.fit."
        )


def _as_2d(name, x, dtype) -> jnp.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}.") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be shaped (n_steps,) or (n_steps, n_sweeps); got shape {a.shape}."
        )
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN/inf value(s), the first at index {first}; "
            "cut the recording there or interpolate over the gap."
        )
    return jnp.asarray(a, dtype=dtype)


def _with_gates(state, v, x, gate_names):
    return state._replace(v=v, **{g: x[j] for j, g in enumerate(gate_names)})


def _rates(model, state, i, gate_names):
    """`(x∞, k)` of every gate at `state`: `dx/dt = k·(x∞ − x)` (exact: the rate is affine
    in `x` with slope `linear_part`)."""
    f = model.vector_field(0.0, state, i)
    lin = model.linear_part(0.0, state, i)
    k = jnp.stack([-getattr(lin, g) for g in gate_names])
    x = jnp.stack([getattr(state, g) for g in gate_names])
    f = jnp.stack([getattr(f, g) for g in gate_names])
    return x + f / k, k


def _gates(model, v, current, x0, dt, gate_names):
    """Gates along the recorded `v` `(n, s)` from `x0`: exact exponential-Euler steps with V
    held at each step's midpoint."""
    state0 = model.init_state((v.shape[1],))

    def step(x, inp):
        v_mid, i = inp
        x_inf, k = _rates(model, _with_gates(state0, v_mid, x, gate_names), i, gate_names)
        x = x_inf + (x - x_inf) * jnp.exp(-k * dt)
        return x, x

    v_mid = 0.5 * (v[1:] + v[:-1])
    _, xs = jax.lax.scan(step, x0, (v_mid, current[1:]))
    xs = jnp.concatenate([x0[None], xs])  # (n, n_gates, s)
    return _with_gates(state0, v, jnp.moveaxis(xs, 1, 0), gate_names)


def decay_check(model, v, current, gate_names):
    """The gates' steady state at `v[0]`; raise if a gate's rate is not affine in the gate
    with slope `linear_part` (then the exponential-Euler step would not be exact and the
    gates not the model's)."""
    state0 = model.init_state((v.shape[1],))
    x0, _ = _rates(model, state0._replace(v=v[0]), current[0], gate_names)
    lin = model.linear_part(0.0, _with_gates(state0, v[0], x0, gate_names), current[0])
    for j, g in enumerate(gate_names):
        x1 = _with_gates(state0, v[0], x0.at[j].add(0.1), gate_names)
        f1 = getattr(model.vector_field(0.0, x1, current[0]), g)
        expected = 0.1 * getattr(lin, g)
        if not np.allclose(np.asarray(f1), np.asarray(expected), rtol=1e-3, atol=1e-6):
            raise TypeError(
                f"the state variable {g!r} of {type(model).__name__} does not obey a linear "
                "ODE at fixed V (its rate is not affine in it with slope linear_part), so "
                "it cannot be reconstructed from the voltage; conductances_from_voltage "
                "needs a conductance-based model with first-order gating kinetics."
            )
    return x0


def conductances_from_voltage(
    model: AbstractModel,
    v: ArrayLike,
    current: ArrayLike,
    dt: float,
    *,
    trainable: Callable = lambda m: (m.g_na, m.g_k, m.g_l),
    window: int = 1,
    solver: AbstractSolver | None = None,
    _one_sided: bool = False,
    _refine: bool = True,
) -> AbstractModel:
    r"""Maximal conductances of a conductance-based model from a recorded voltage trace, by
    non-negative least squares (Huys, Ahrens & Paninski 2006).

    Given V(t), each gate `x` obeys the linear ODE `dx/dt = a(V) − k(V)·x`; it is
    integrated along the recording from its steady state at `v[0]` (exact for V held at
    each step's midpoint). The ionic current is linear in the maximal conductances,
    `I_ion = I_0 + Σ_k g_k f_k(V, gates)`, so the current balance integrated over windows
    of `window` steps,

    $$c_m\,(V_{j+w} - V_j) = \int I\,dt - \int I_0\,dt - \sum_k g_k \int f_k\,dt,$$

    (integrals by the trapezoidal rule) is a linear regression for the `g_k`, solved with
    `g_k ≥ 0` exactly (the NNLS optimum over all 2ⁿ supports). The `f_k = ∂I_ion/∂g_k`
    are computed by `jax.jacfwd` of the model's `membrane_current`, and linearity is
    checked: selecting a parameter the current is not linear in (`e_na`) raises.

    That regression discretises the ODE, not the simulator, so the estimate is then made
    consistent with `solver` at this `dt`: the conductances `g` whose simulated trace
    (`simulate(model, current, dt=dt, solver=solver)`, from the model's own initial
    state, as `fit` simulates) the same regression maps to the recording's estimate
    (Newton's method, each iteration one simulation with a batched JVP, at most
    `REFINE_ITERATIONS`; conductances estimated at 0 stay 0). On a trace that
    `simulate(model, current, dt=dt, solver=solver)` produced, the estimate is then exact
    (HH, ExponentialRK2, dt 0.025: < 1e-6 relative in float64, where the regression alone
    is 2–6 % low) — the minimum of `fit`'s trace MSE with that solver; on a trace of the
    true ODE it carries the solver's own discretisation error instead, as `fit` would.
    Measurement noise affects it as it affects the regression.

    **Arguments**

    - `model`: a conductance-based point neuron (`HodgkinHuxley`, `ReducedHH`,
      `MorrisLecar`); all parameters not selected (reversal potentials, kinetics, `c_m`)
      are taken as known.
    - `v`: recorded voltage, mV, `(n_steps,)` or `(n_steps, n_sweeps)`, sampled like
      `Solution.v` (row `i` at the end of step `i`).
    - `current`: injected current of the same shape (µA/cm²), held over each step (row
      `i` during step `i`), as given to `simulate`.
    - `dt`: sampling interval, ms.
    - `trainable`: the conductances to estimate (scalar parameters), as for `fit`.
    - `solver`: the scheme the estimate is made consistent with (default: the model's
      default solver, `neurojax.solvers.default_solver(model)`, as `simulate` and `fit`
      use).
    - `window`: steps per window of the integrated current balance. 1 (default) is exact
      to second order in `dt` for noise-free data; with measurement noise of σ mV the
      noise of each window's `c_m ΔV` stays ≈ √2·c_m·σ while the signal grows with the
      window, so ~0.5 ms windows (20 steps at dt = 0.025) average it down (see
      docs/fitting.md).

    Returns `model` with the estimated conductances; use it as the start of `fit`.
    """
    return _conductances_from_voltage(
        model,
        v,
        current,
        dt,
        trainable=trainable,
        window=window,
        solver=solver,
        one_sided=_one_sided,
        refine=_refine,
    )[0]


def _conductances_from_voltage(
    model,
    v,
    current,
    dt,
    *,
    trainable,
    window,
    solver,
    one_sided,
    refine,
    with_covariance=False,
) -> tuple:
    """`conductances_from_voltage` and the number of simulations it spent (and, with
    `with_covariance`, the regression's covariance, `_regression_covariance`)."""
    _check_model(model)
    if solver is None:
        solver = default_solver(model)
    if not isinstance(solver, AbstractSolver):
        raise TypeError(f"solver must be a neurojax solver, got {solver!r}.")
    check_solver_fits(solver, model)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a number of steps >= 1, got {window!r}.")
    try:
        dt_ok = not isinstance(dt, bool) and float(dt) > 0
    except (TypeError, ValueError):
        dt_ok = False
    if not dt_ok:
        raise ValueError(f"dt must be a positive number of ms, got {dt!r}.")
    dt = float(dt)
    dtype = jnp.result_type(float)
    v = _as_2d("v", v, dtype)
    current = _as_2d("current", current, dtype)
    if v.shape != current.shape:
        raise ValueError(
            f"v has shape {v.shape} but current {current.shape}; both must be "
            "(n_steps, n_sweeps), the current of step i in row i."
        )
    n = v.shape[0]
    if n < 2 * window + 1:
        raise ValueError(
            f"{n} samples are too few for windows of {window} steps; need at least "
            f"{2 * window + 1}."
        )
    _, leaves = _selection(trainable, model)
    if len(leaves) > MAX_CONDUCTANCES:
        raise ValueError(
            f"trainable selects {len(leaves)} parameters; the exact NNLS handles up to "
            f"{MAX_CONDUCTANCES}."
        )
    for j, leaf in enumerate(leaves):
        if jnp.shape(leaf) != ():
            raise ValueError(
                f"trainable item {j} has shape {jnp.shape(leaf)}; conductances_from_voltage "
                "estimates scalar conductances shared by all sweeps."
            )
    # the start's values of the selected conductances are ignored: replaced by 1 here,
    # so not even rounding depends on them
    where = functools.partial(_where, trainable)
    original = model
    model = eqx.tree_at(where, model, tuple(jnp.ones_like(jnp.asarray(p)) for p in leaves))
    state0 = model.init_state((v.shape[1],))
    gate_names = _gate_fields(model, state0)
    # the same model type, shapes and selection reuse one compilation
    x0 = decay_check(model, v, current, gate_names)
    jac, offset, err, scale, lhs, cols = _regression(
        model, v, current, x0, float(dt), trainable, gate_names, int(window), bool(one_sided)
    )
    if float(err) > 1e-6 * float(scale) * (1e3 if dtype == jnp.float32 else 1.0):
        raise ValueError(
            f"the ionic current of {type(model).__name__} is not linear in the selected "
            "parameters, so they are not maximal conductances; select conductances only, "
            "e.g. trainable=lambda m: (m.g_na, m.g_k, m.g_l)."
        )
    # after the linearity test (whose message a product such as g_na·e_na gets)
    _refuse_signed(original, leaves)
    for j in range(len(leaves)):
        if not bool(jnp.any(jac[..., j] != 0)):
            raise ValueError(
                f"trainable item {j} does not enter the ionic current (its per-conductance "
                "current is 0 along the recording): it is not a conductance, or the "
                "recording never opens its channel."
            )
    g = _nnls(cols, lhs)
    cov = _regression_covariance(cols, lhs, g)
    n_sim = 0
    if refine:
        g, n_sim = _solver_consistent(
            model, solver, current, dt, trainable, gate_names, int(window), g
        )
    values = [jnp.asarray(g[j], dtype=jnp.result_type(leaves[j])) for j in range(len(leaves))]
    fitted = eqx.tree_at(functools.partial(_where, trainable), model, tuple(values))
    if with_covariance:
        return fitted, n_sim, cov
    return fitted, n_sim


def _refuse_signed(model, leaves) -> None:
    """Refuse a selected parameter whose declared domain admits negative values.

    A reversal potential enters the ionic current linearly too (`g·(V − e)`), so the
    linearity test alone took `e_na`, `e_l` for conductances, and the non-negative least
    squares then "estimated" `e_l = 0` mV (held-out probe, session 13: HH `e_na, e_l,
    c_m` from one sweep; `Auto` started the descent there, 535 mV², ABOVE_NOISE). A
    maximal conductance is declared `>= 0` (its `Domain`); anything that may be negative
    is not one, whatever the linearity says."""
    domains = {id(value): (name, d) for name, value, d in parameter_domains(model)}
    for j, leaf in enumerate(leaves):
        name, d = domains.get(id(leaf), (None, None))
        if d is not None and d.lower < 0:
            raise ValueError(
                f"trainable item {j} ({type(model).__name__}.{name}) may be negative (its "
                f"domain is {d.describe()}): it is not a maximal conductance, which the "
                "non-negative least squares estimates; select conductances only, e.g. "
                "trainable=lambda m: (m.g_na, m.g_k, m.g_l)."
            )


def _regression_covariance(cols, lhs, g) -> np.ndarray:
    """The ordinary least-squares covariance of the regression's estimate,
    `s²·(XᵀX)⁻¹` on its support (`s²`: the windows' residual variance; conductances
    estimated at 0 get 0 rows and columns), `(k, k)` in (mS/cm²)², float64.

    It measures the scatter of the current balance, not the errors-in-variables bias of
    noise inside the regressors, so it understates the estimate's error: HH, 6 µA/cm²
    (2 spikes), 1 mV noise, 0.5 ms windows, 12 draws: the errors were 0.3–3 of these
    standard errors (g_l: s.e. 10–70 %)."""
    x = np.asarray(cols, dtype=float)
    y = np.asarray(lhs, dtype=float)
    g = np.asarray(g, dtype=float)
    k = g.size
    on = g > 0
    cov = np.zeros((k, k))
    n = y.size
    if not on.any() or n <= on.sum():
        return cov
    xs = x[:, on]
    res = y - x @ g
    s2 = float(res @ res) / (n - int(on.sum()))
    try:
        inner = np.linalg.inv(xs.T @ xs)
    except np.linalg.LinAlgError:
        return cov
    cov[np.ix_(on, on)] = s2 * inner
    return cov


def _where(trainable, m):
    return tuple(jtu.tree_leaves(trainable(m)))


def noise_sd(v) -> float:
    """The standard deviation of white measurement noise on a voltage trace (mV), from
    its second differences: for white noise of s.d. σ, `V[k+1] − 2V[k] + V[k−1]` has s.d.
    `√6·σ`, while a trace sampled finely enough changes smoothly between samples, so its
    own second differences are small except in spike upstrokes. A robust scale (1.4826 ×
    the median absolute deviation, exact for Gaussian noise) ignores those. Measured on
    60 ms HH sweeps (6 and 15 µA/cm², dt = 0.025 ms, float32): noise-free 0.8–1.4e-4 mV;
    with 1 mV noise 0.95–1.03 mV over 8 draws each. `v`: `(n_steps,)` or
    `(n_steps, n_sweeps)`."""
    v = np.asarray(v, dtype=float)
    d2 = (v[2:] - 2 * v[1:-1] + v[:-2]).ravel()
    d2 = d2[np.isfinite(d2)]
    if d2.size == 0:
        return 0.0
    mad = np.median(np.abs(d2 - np.median(d2)))
    return float(1.4826 * mad / np.sqrt(6.0))


NOISY_SD = 0.05
"""mV: a recording with more estimated noise (`noise_sd`) than this gets ~0.5 ms windows
in `DataDrivenInit(window=None)`; a cleaner one the exact single-step balance."""


def auto_window(v, dt: float) -> int:
    """Steps per window of the integrated current balance for this recording: 1 when it
    is clean (`noise_sd ≤ NOISY_SD`), else ~0.5 ms of steps — the noise of each window's
    `c_m ΔV` stays ≈ √2·c_m·σ while the signal grows with the window (HH, 1 mV noise, 2
    spikes, one draw, dt 0.025: windows of 1, 5, 20 steps gave `g_na` 4.3, 2.8, 0.9 % off,
    `g_l` 13, 3.9, 7.3 % off; the estimate stays a start, the descent does the rest)."""
    if noise_sd(v) <= NOISY_SD:
        return 1
    return max(1, int(round(0.5 / float(dt))))


@eqx.filter_jit
def _regression(model, v, current, x0, dt, trainable, gate_names, window, one_sided):
    """The per-window regression `lhs ≈ cols @ g` (and what the checks need)."""
    n, s = v.shape
    states = _gates(model, v, current, x0, dt, gate_names)
    where = functools.partial(_where, trainable)
    leaves = where(model)
    p0 = jnp.stack([jnp.asarray(p, v.dtype) for p in leaves])

    def i_ion(p):
        m = eqx.tree_at(where, model, tuple(p[j] for j in range(len(leaves))))
        return m.membrane_current(states)

    jac = jax.jacfwd(i_ion)(p0)  # (n, s, k): the per-conductance currents f_k
    offset = i_ion(p0) - jac @ p0  # the current of everything not selected
    # linearity: the current at other conductances must be offset + f·g exactly
    p1 = 2.0 * p0 + 1.0
    actual = i_ion(p1)
    err = jnp.max(jnp.abs(actual - (offset + jac @ p1)))
    scale = jnp.max(jnp.abs(actual)) + 1.0

    c_m = jnp.asarray(model.c_m, v.dtype)
    # step i -> i+1 (current[i+1] held over it), integrals by the trapezoidal rule
    # (or, `one_sided`, the left-endpoint rule: forward Euler's dV/dt, for comparison)
    if one_sided:
        quad = lambda a: dt * a[:-1]  # noqa: E731
    else:
        quad = lambda a: 0.5 * dt * (a[1:] + a[:-1])  # noqa: E731
    lhs = dt * current[1:] - quad(offset) - c_m * (v[1:] - v[:-1])  # = Σ g_k ∫f_k
    cols = quad(jac)  # (n-1, s, k)
    n_win = (n - 1) // window
    lhs = lhs[: n_win * window].reshape(n_win, window, s).sum(1).reshape(-1)
    cols = cols[: n_win * window].reshape(n_win, window, s, -1).sum(1)
    return jac, offset, err, scale, lhs, cols.reshape(-1, len(leaves))


@eqx.filter_jit
def _regressed_simulation(model, solver, current, dt, trainable, gate_names, window, g, support):
    """`F(g)`, the regression's estimate from the trace `simulate` records with the
    conductances `g` (from the model's own initial state, as `fit` simulates), and its
    Jacobian `∂F/∂g` (one batched JVP through the simulation). The regression is the
    least-squares solution on the recording's `support` (the conductances its NNLS found
    > 0), unconstrained in sign there, so `F` is smooth."""
    where = functools.partial(_where, trainable)
    leaves = where(model)
    k = len(leaves)
    state0 = model.init_state((current.shape[1],))

    def regressed(g):
        m = eqx.tree_at(
            where, model, tuple(g[j].astype(jnp.result_type(leaves[j])) for j in range(k))
        )
        trace = simulate(m, current, dt=dt, solver=solver, throw=False).v.astype(current.dtype)
        x0, _ = _rates(model, state0._replace(v=trace[0]), current[0], gate_names)
        out = _regression(model, trace, current, x0, dt, trainable, gate_names, window, False)
        return _least_squares_on(out[-1], out[-2], support)

    basis = jnp.eye(k, dtype=g.dtype)
    return jax.vmap(lambda e: jax.jvp(regressed, (g,), (e,)), out_axes=(None, 1))(basis)


def _solver_consistent(model, solver, current, dt, trainable, gate_names, window, g_data):
    """The conductances `g` whose simulated trace the regression maps to the same estimate
    as the recording, `F(g) = g_data` (`_regressed_simulation`), by Newton's method from
    `g_data` (indirect inference: the regression's discretisation bias, measured on the
    solver's own trace, is removed); conductances estimated at 0 stay 0. Each iteration is
    one simulation with a batched JVP. Returns `(g, n_iterations)`."""
    g = g_data
    active = g_data > 0
    # the regression's own model at the data's estimate (it ignores the selected values
    # but for rounding)
    where = functools.partial(_where, trainable)
    leaves = where(model)
    model = eqx.tree_at(
        where, model, tuple(jnp.asarray(g[j], jnp.result_type(p)) for j, p in enumerate(leaves))
    )
    tol = 0.01 * float(jnp.finfo(g.dtype).eps) ** 0.5
    best, best_miss, n = g, np.inf, 0
    for n in range(1, REFINE_ITERATIONS + 1):  # noqa: B007
        f, jac = _regressed_simulation(
            model, solver, current, dt, trainable, gate_names, window, g, active
        )
        miss = float(jnp.max(jnp.abs(g_data - f) / jnp.maximum(jnp.abs(g_data), 1e-30)))
        if not miss < best_miss:  # rounding (float32 simulations) stopped the progress
            break
        best, best_miss = g, miss
        jac = jnp.where(active[:, None] & active[None, :], jac, jnp.eye(len(g), dtype=g.dtype))
        delta = jnp.where(active, jnp.linalg.solve(jac, g_data - f), 0.0)
        if not bool(jnp.all(jnp.isfinite(delta))) or miss <= tol:
            break
        g = jnp.maximum(g + delta, 0.0)
    return best, n


def _normalised_gram(a, b):
    norms = jnp.linalg.norm(a, axis=0)
    norms = jnp.where(norms > 0, norms, 1.0)
    a = a / norms
    return a.T @ a, a.T @ b, norms


def _solve_on(gram, rhs, mask):
    """The least-squares solution (normalised coordinates) on the columns in `mask`, 0
    elsewhere."""
    k = gram.shape[0]
    both = mask[:, None] & mask[None, :]
    m = jnp.where(both, gram, jnp.eye(k, dtype=gram.dtype))
    return jnp.where(mask, jnp.linalg.solve(m, jnp.where(mask, rhs, 0.0)), 0.0)


def _least_squares_on(a, b, mask):
    """`argmin ‖a x − b‖²` over `x` with `x = 0` outside `mask` (no sign constraint)."""
    gram, rhs, norms = _normalised_gram(a, b)
    return _solve_on(gram, rhs, mask) / norms


def _nnls(a, b):
    """`argmin_{x ≥ 0} ‖a x − b‖²`, exactly: the optimum is the unconstrained least-squares
    solution on its support, so it is the best feasible one over all 2ⁿ supports
    (columns scaled to unit norm first; normal equations of size n ≤ 12)."""
    gram, rhs, norms = _normalised_gram(a, b)
    k = gram.shape[0]
    masks = jnp.asarray(list(itertools.product([False, True], repeat=k)))

    def candidate(mask):
        x = _solve_on(gram, rhs, mask)
        ok = jnp.all(x >= 0) & jnp.all(jnp.isfinite(x))
        cost = x @ gram @ x - 2.0 * rhs @ x
        return x, jnp.where(ok, cost, jnp.inf)

    xs, costs = jax.vmap(candidate)(masks)
    return xs[jnp.argmin(costs)] / norms
