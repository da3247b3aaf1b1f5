"""Limit cycles by simulation: up and down parameter sweeps, amplitude and period."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import AbstractModel
from .._saveat import SaveAt
from .._simulate import simulate
from ..solvers import RK4, AbstractSolver
from ._fixed_points import as_flat
from ._newton import newton_batch
from ._options import Sweep, check_option
from ._plot import plot_bifurcation_diagram
from ._system import System, float64, make_system, parameter_name
from ._units import units_of


class Cycle(NamedTuple):
    """What `detect_cycle` measures on a trace (JAX scalars).

    - `oscillating`: a sustained oscillation: peak-to-peak amplitude above `min_amplitude`
      in the trace's second half, not decaying (≥ 99.5 % of the first half's), at least 3
      upward crossings of the mid level, and the trace finite.
    - `v_min`, `v_max`: the trace's range.
    - `period`: mean period over the crossings, `(t_last − t_first)/(count − 1)` (NaN if
      not oscillating); crossing times linearly interpolated between samples.
    - `i0`, `i1`: samples spanning the last full period (`i1` exclusive).
    """

    oscillating: jax.Array
    v_min: jax.Array
    v_max: jax.Array
    period: jax.Array
    i0: jax.Array
    i1: jax.Array


def detect_cycle(v, dt, min_amplitude) -> Cycle:
    """Periodic motion in a settled trace `v` sampled every `dt` (the one cycle detector
    of the analysis: `limit_cycles` and `phase_plane` use it). Traceable."""
    v = jnp.asarray(v)
    n = v.shape[0]
    half = n // 2
    finite = jnp.all(jnp.isfinite(v))
    vmin, vmax = v.min(), v.max()
    amp1, amp2 = jnp.ptp(v[:half]), jnp.ptp(v[half:])
    level = 0.5 * (vmin + vmax)
    up = (v[:-1] < level) & (v[1:] >= level)
    frac = (level - v[:-1]) / jnp.where(up, v[1:] - v[:-1], 1.0)
    idx = jnp.arange(n - 1)
    times = dt * (idx + frac)
    count = up.sum()
    first = jnp.min(jnp.where(up, times, jnp.inf))
    last = jnp.max(jnp.where(up, times, -jnp.inf))
    last_up = jnp.max(jnp.where(up, idx, -1))
    before = jnp.max(jnp.where(up & (idx < last_up), idx, -1))
    osc = finite & (amp2 > min_amplitude) & (amp2 >= 0.995 * amp1) & (count >= 3)
    period = jnp.where(osc, (last - first) / jnp.maximum(count - 1, 1), jnp.nan)
    return Cycle(osc, vmin, vmax, period, before, last_up + 2)


@dataclasses.dataclass(frozen=True, repr=False)
class CycleBranch:
    """What a simulation settles to at each parameter value of one sweep.

    - `parameter`: the values, ascending, shape `(k,)`.
    - `oscillating`: `(k,)` bool, a sustained oscillation (stable limit cycle) was found.
    - `v_min`, `v_max`: the range of V over the measurement window (mV; equal at rest).
    - `period`: ms, NaN where not oscillating.
    - `direction`: `"up"` or `"down"`, the order in which the values were visited.
    """

    parameter: np.ndarray
    oscillating: np.ndarray
    v_min: np.ndarray
    v_max: np.ndarray
    period: np.ndarray
    direction: str

    @property
    def frequency(self) -> np.ndarray:
        """Oscillation frequency in Hz (0 where not oscillating)."""
        return np.where(self.oscillating, 1000.0 / self.period, 0.0)

    def ranges(self) -> list[tuple[float, float]]:
        """The runs of sampled values where the sweep oscillated, `(low, high)` each."""
        return _runs_of(self.parameter, self.oscillating)

    def __repr__(self):
        runs = self.ranges()
        where = ", ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in runs) if runs else "nowhere"
        return (
            f"CycleBranch({self.direction} sweep, {len(self.parameter)} values in "
            f"[{self.parameter.min():.4g}, {self.parameter.max():.4g}], oscillating at {where})"
        )


def run_ends(mask: np.ndarray) -> list[tuple[int, int]]:
    """`(i, j)` index pairs of the maximal runs `i..j` of True in `mask`."""
    out, i = [], 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j + 1 < len(mask) and mask[j + 1]:
                j += 1
            out.append((i, j))
            i = j + 1
        else:
            i += 1
    return out


def _runs_of(p: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """`(p[i], p[j])` for each maximal run `i..j` of True in `mask`."""
    return [(float(p[i]), float(p[j])) for i, j in run_ends(mask)]


@dataclasses.dataclass(frozen=True, repr=False)
class LimitCycles:
    """Stable limit cycles found by sweeping a parameter up, then back down.

    - `up`: the sweep from low to high values, starting at rest.
    - `down`: the sweep back from the highest value (on its attractor) to the lowest, each
      run continuing from the previous one (from where V peaked), so a cycle is kept as
      long as it exists: the difference between the two sweeps is the **hysteresis**.
    - `parameter_name`: `"current"` or the varied field.
    """

    up: CycleBranch | None
    down: CycleBranch | None
    parameter_name: str
    units: dict = dataclasses.field(default_factory=dict)

    @property
    def parameter(self) -> np.ndarray:
        return (self.up or self.down).parameter

    @property
    def bistable(self) -> list[tuple[float, float]]:
        """Intervals `(low, high)` of sampled values where the two sweeps disagree — one
        settles at rest, the other oscillates: a stable equilibrium and a stable limit
        cycle coexist (between a fold of limit cycles and a subcritical Hopf point, for
        instance). Ends are sampled values, so each edge is known to the grid spacing
        (`bifurcation_diagram(...).bistable` locates them by continuation). A property,
        like `BifurcationDiagram.bistable`."""
        if self.down is None or self.up is None:
            return []
        return _runs_of(self.parameter, self.up.oscillating != self.down.oscillating)

    def __repr__(self):
        return f"LimitCycles({self.parameter_name}, up={self.up}, down={self.down})"

    def _diagram(self):
        """What `plot_bifurcation_diagram` draws: `(branches, points, cycles, name)`."""
        return [], (), self, self.parameter_name

    def plot(self, ax=None, **kwargs):
        """Draw the sweeps' min/max V (see `neurojax.analysis.plot_bifurcation_diagram`)."""
        return plot_bifurcation_diagram(self, ax=ax, **kwargs)


@eqx.filter_jit
def _sweep(
    system: System, solver, values, state0, dt, min_amplitude, n_transient: int, n_window: int
):
    """Simulate `n_transient + n_window` steps at each value in turn; `detect_cycle` on V
    over the last `n_window` steps, and whether the final state is finite. Each value starts
    from the state where V peaked in the previous window: on a limit cycle that is the
    spike's top, as far as it gets from the rest state and from the unstable cycle that
    bounds its basin, so a small parameter step does not knock the sweep off the cycle."""

    def segment(state, p):
        model, current = system.with_param(p)
        if n_transient:
            state = simulate(
                model,
                jnp.full((n_transient,), current),
                dt=dt,
                solver=solver,
                state0=state,
                saveat=SaveAt(every=n_transient, spikes=False),
                throw=False,
            ).final_state.y
        sol = simulate(
            model,
            jnp.full((n_window,), current),
            dt=dt,
            solver=solver,
            state0=state,
            throw=False,  # checked below, naming the parameter value
        )
        v = sol.v
        cycle = detect_cycle(v, dt, min_amplitude)
        finite = jnp.all(
            jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(sol.states)])
        )
        peak = jax.tree_util.tree_map(lambda a: a[jnp.argmax(v)], sol.states)
        return peak, (cycle, finite, _undecided(v, cycle, min_amplitude))

    return jax.lax.scan(segment, state0, values)


def _undecided(v, cycle: Cycle, min_amplitude):
    """Whether a window that `detect_cycle` did not call oscillating cannot tell: V still
    moves by more than `min_amplitude` in its second half and crosses its mid-level
    upward only once or twice (`detect_cycle` needs three crossings, two periods). Such a
    window holds a slow oscillation (a period longer than a third of it) or a V that has
    not settled. Measured (session-12 probes): FitzHugh–Nagumo at 0.4 and 0.5 (period
    39–42 ms, V from −1.98 to 1.85) in the default 100 ms window was reported "not
    oscillating", with the cycle's own v_min/v_max beside it."""
    half = v.shape[0] // 2
    level = 0.5 * (v.min() + v.max())
    count = ((v[:-1] < level) & (v[1:] >= level)).sum()
    moving = jnp.ptp(v[half:]) > min_amplitude
    return ~cycle.oscillating & jnp.all(jnp.isfinite(v)) & moving & (count >= 1) & (count < 3)


def _branch(system: System, values, out, direction, window: float) -> CycleBranch:
    cycle, finite, undecided = (jax.tree_util.tree_map(np.asarray, o) for o in out)
    values = np.asarray(values)
    if not np.all(finite):
        bad = ", ".join(f"{v:g}" for v in values[~finite][:5])
        raise FloatingPointError(
            f"limit_cycles: the simulation of {system.model_name} went non-finite (NaN or "
            f"inf) at parameter value(s) {bad} ({direction} sweep), so no cycle can be "
            "measured there. Try a smaller dt, a more stable solver, or a narrower range of "
            "values."
        )
    if np.any(undecided):
        bad = ", ".join(f"{v:g}" for v in values[undecided][:5])
        raise ValueError(
            f"limit_cycles: at parameter value(s) {bad} ({direction} sweep) V of "
            f"{system.model_name} still moves over the measurement window of {window:g} ms "
            "but crosses its mid-level upward only once or twice: an oscillation slower "
            "than a third of the window, or a state that has not settled, cannot be told "
            "from rest. Pass a longer window= (at least three periods) or transient=."
        )
    order = np.argsort(values)
    return CycleBranch(
        parameter=values[order],
        oscillating=cycle.oscillating[order],
        v_min=cycle.v_min[order],
        v_max=cycle.v_max[order],
        period=cycle.period[order],
        direction=direction,
    )


def limit_cycles(
    model: AbstractModel,
    values,
    *,
    parameter: Callable | None = None,
    current: float = 0.0,
    sweep: Sweep = Sweep.BOTH,
    down_state0=None,
    dt: float = 0.01,
    transient: float = 200.0,
    window: float = 100.0,
    solver: AbstractSolver | None = None,
    state0=None,
    min_amplitude: float = 1e-2,
) -> LimitCycles:
    """Stable limit cycles (min/max V and period) along a parameter, by simulation.

    **Arguments**

    - `model`: a neuron with scalar parameters.
    - `values`: the parameter values (sorted ascending here), e.g. currents in µA/cm².
    - `parameter`: `None` for the injected current, or a selector `lambda m: m.g_k`.
    - `current`: the injected current when another parameter is varied.
    - `sweep`: a `Sweep`: `Sweep.UP` (values ascending from `state0`), `Sweep.DOWN`
      (descending from `down_state0`, default `state0`), or `Sweep.BOTH`: up, then back
      down from where the up sweep ended (or from `down_state0`) — the hysteresis
      protocol of an experiment.
    - `dt`, `transient`, `window`: step (ms); each value is simulated `transient` ms, then
      V is measured over `window` ms (which should hold a few periods).
    - `solver`: default `RK4()`.
    - `state0`: where the sweep starts (default: the equilibrium nearest
      `model.init_state(())` at the first value, nudged by 1e-4 relative); a state
      NamedTuple, a `FixedPoint` or an array of the dynamical variables.
    - `down_state0`: where the down sweep starts: e.g. a point of a limit cycle (from
      `phase_plane(...).limit_cycle` or a simulation) to follow that cycle down to where it
      disappears.
    - `min_amplitude`: the smallest peak-to-peak V (mV) counted as an oscillation; an
      oscillation must also not decay (its amplitude in the second half of the window is
      ≥ 99.5 % of the first half's), so damped ringing near a Hopf point is not a cycle.

    Runs `neurojax.simulate` (float64) in a `lax.scan` over the values, each run starting
    where the previous one ended. Unstable cycles are not found (see `continuation` for the
    unstable equilibria). A run that goes NaN or inf raises a `FloatingPointError` naming
    the parameter values (rather than reporting "not oscillating" there).
    """
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if len(values) < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"values must hold >= 2 finite parameter values, got {values!r}.")
    sweep = check_option("limit_cycles", "sweep", sweep, Sweep)
    if not (dt > 0 and transient >= 0 and window > 0):
        raise ValueError(
            f"need dt > 0, transient >= 0 and window > 0 (ms), got {dt}, {transient}, {window}."
        )
    n_transient, n_window = int(round(transient / dt)), int(round(window / dt))
    if n_window < 4:
        raise ValueError(f"window={window} ms holds fewer than 4 steps of dt={dt} ms.")
    solver = RK4() if solver is None else solver
    name = parameter_name(model, parameter)
    with float64():
        system = make_system(model, current=current, parameter=parameter, caller="limit_cycles")
        if state0 is None:
            start = values[0] if sweep != "down" else values[-1]
            x0 = np.asarray(system.initial())
            x, ok, _ = newton_batch(system, x0[None], start)
            x0 = x[0] if ok[0] else x0
            # a nudge, so that an equilibrium that is already unstable is left
            x0 = x0 + 1e-4 * (1.0 + np.abs(x0))
        else:
            x0 = as_flat(system, state0)
        dt_ = jnp.asarray(dt, dtype=jnp.float64)
        amp = jnp.asarray(min_amplitude, dtype=jnp.float64)

        def run(vals, x):
            s0 = system.state(jnp.asarray(x))
            return _sweep(system, solver, jnp.asarray(vals), s0, dt_, amp, n_transient, n_window)

        up = down = None
        final = None
        if sweep in ("up", "both"):
            final, out = run(values, x0)
            up = _branch(system, values, out, "up", window)
        if sweep in ("down", "both"):
            if down_state0 is not None:
                xd = as_flat(system, down_state0)
            elif final is not None:
                xd = np.asarray(system.flatten(final))
            else:
                xd = x0
            _, out = run(values[::-1], xd)
            down = _branch(system, values[::-1], out, "down", window)
        units = units_of(
            model,
            ("current", name, *system.variables),
            voltage=system.variables[system.v_index],
        )
        return LimitCycles(up=up, down=down, parameter_name=name, units=units)
