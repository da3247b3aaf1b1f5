"""Bifurcation diagrams — the whole picture in one call: every equilibrium branch over a
parameter interval with its folds and Hopf points, the branches of limit cycles started
from every Hopf point and from simulated firing with their folds, how repetitive firing
starts and stops (`Onset`), and the ranges where rest and firing coexist."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import check_instance
from .._model import AbstractModel
from .._progress import AbstractProgressMeter, NoProgress
from ._continuation import (
    HasBifurcationPoints,
    analyse_branch,
    check_interval,
    check_max_points,
    clip_to_domain,
    mark_domain_end,
    trace,
)
from ._cycles import detect_cycle, run_ends
from ._fixed_points import find_equilibria, make_fixed_point
from ._newton import solve_rows
from ._onset import Onset, period_law
from ._options import OnsetKind
from ._periodic import (
    CycleContinuation,
    NoCycleError,
    continue_cycle,
    find_cycle,
)
from ._system import (
    System,
    check_range,
    check_real,
    float64,
    make_system,
    parameter_name,
    trajectory,
)
from ._units import units_of


@dataclasses.dataclass(frozen=True)
class CycleSearch:
    """How `bifurcation_diagram` looks for limit cycles.

    - `probes`: parameter values, evenly spread over the interval, where the model is
      simulated to find stable cycles (firing) that no Hopf point leads to.
    - `kicks`: voltages, spread over `v_range`, to which each equilibrium is kicked (the
      other variables kept) to start those simulations; unstable equilibria are also
      started just off themselves.
    - `dt`, `settle`, `window`: ms; fixed-step RK4 for `settle`, then `detect_cycle` over
      `window` (which must hold ≥ 3 periods of the slowest cycle to be found).
    - `max_points`: cycles computed per continuation (each direction).
    - `max_step`: arclength step bound of the cycle continuation, in `(x0, T, p)` (mV,
      ms, parameter units; default the larger of 1/10 of the interval and half the
      starting cycle's period: near an infinite-period end the period dominates).
    """

    probes: int = 8
    kicks: int = 6
    dt: float = 0.02
    settle: float = 200.0
    window: float = 300.0
    max_points: int = 300
    max_step: float | None = None

    def __post_init__(self):
        # each was accepted and misread later: probes=2.5 or kicks=1.9 cut to 2 and 1,
        # probes=True read as 1, max_points=0 gave a diagram without cycles and max_step=-1
        # branches of one cycle each (continue_cycle's ValueErrors are warnings there), and
        # window=inf overflowed; dt="0.02" failed comparing str and int
        for name in ("probes", "kicks"):
            x = getattr(self, name)
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) or x < 0:
                raise ValueError(f"CycleSearch: {name} must be an int >= 0, got {x!r}.")
        check_max_points("CycleSearch", self.max_points)
        for name in ("dt", "settle", "window") + (() if self.max_step is None else ("max_step",)):
            x = getattr(self, name)
            check_real("CycleSearch", name, x, " (ms)" if name != "max_step" else "")
            if not np.isfinite(x):
                raise ValueError(f"CycleSearch: {name} must be finite, got {x!r}.")
        if self.max_step is not None and not self.max_step > 0:
            raise ValueError(f"CycleSearch: max_step must be > 0 (or None), got {self.max_step!r}.")
        if not (self.dt > 0 and self.settle >= 0 and self.window > 4 * self.dt):
            raise ValueError(
                f"need dt > 0, settle >= 0 and window > 4 dt (ms), got dt={self.dt}, "
                f"settle={self.settle}, window={self.window}."
            )


@dataclasses.dataclass(frozen=True, repr=False)
class BifurcationDiagram(HasBifurcationPoints):
    """The bifurcation diagram of a model over a parameter interval (see
    `bifurcation_diagram`).

    - `branches`: the equilibrium `Branch`es (each with eigenvalues, stability, points).
    - `points`: every located bifurcation, sorted by parameter: of equilibria (`"fold"`,
      `"hopf"`, `"branch point"`) and of cycles (`"fold of cycles"`, `"period doubling"`,
      `"torus"`); `folds`, `hopfs`, `cycle_folds` select by kind.
    - `cycles`: the branches of limit cycles (`CycleContinuation`s: period, min/max of each
      variable, Floquet multipliers and stability at every cycle), or `()`.
    - `onsets`: the `Onset`s — each end of each range of stable cycles (repetitive
      firing), and the bifurcation that makes it — sorted by parameter.
    - `parameter_name`, `interval`, `units` (`{name: unit}` for the axes).
    """

    branches: tuple
    points: tuple
    cycles: tuple
    onsets: tuple
    parameter_name: str
    interval: tuple[float, float]
    units: dict
    model: str = ""

    @property
    def cycle_folds(self) -> list:
        """Folds of limit cycles (saddle-node bifurcations of cycles)."""
        return [b for b in self.points if b.kind == "fold of cycles"]

    @property
    def rest(self) -> list[tuple[float, float]]:
        """Parameter intervals `(low, high)` where a stable equilibrium exists."""
        return _union([iv for b in self.branches for iv in _stable_intervals(b, b.points)])

    @property
    def firing(self) -> list[tuple[float, float]]:
        """Parameter intervals `(low, high)` where a stable limit cycle exists (repetitive
        firing), edges located by the continuation (folds of cycles, Hopf points) or at
        its last cycle (period → ∞ ends, to the continuation's resolution)."""
        ivs = _union([iv for c in self.cycles for iv in _stable_intervals(c, c.points)])
        # an infinite-period end (SNIC, homoclinic) is approached, never reached, by the
        # continuation: the range extends to the bifurcation itself
        span = self.interval[1] - self.interval[0]
        out = []
        for lo, hi in ivs:
            for o in self.onsets:
                if o.kind.infinite_period and abs(o.edge - lo) < 0.01 * span:
                    lo = min(lo, o.edge)
                if o.kind.infinite_period and abs(o.edge - hi) < 0.01 * span:
                    hi = max(hi, o.edge)
            out.append((lo, hi))
        return _union(out)

    @property
    def bistable(self) -> list[tuple[float, float]]:
        """Parameter intervals `(low, high)` where a stable equilibrium and a stable limit
        cycle coexist: rest or repetitive firing depending on the initial state (hysteresis
        in a current ramp). Located by continuation (a property, like
        `LimitCycles.bistable` for simulated sweeps)."""
        return _intersect(self.rest, self.firing)

    def _diagram(self):
        """What `plot_bifurcation_diagram` draws: `(branches, points, cycles, name)`."""
        return self.branches, self.points, self.cycles, self.parameter_name

    def summary(self) -> str:
        """A text account: equilibria and their bifurcations, cycles and theirs, how
        firing starts and stops, and the bistable ranges."""
        unit = self.units.get(self.parameter_name, "")
        u = f" {unit}" if unit else ""
        sym = "I" if self.parameter_name == "current" else self.parameter_name
        lo, hi = self.interval
        lines = [f"{self.model}: {sym} from {lo:g} to {hi:g}{u}"]
        fmt = lambda ivs: ", ".join(f"[{a:.6g}, {b:.6g}]" for a, b in ivs) or "none"  # noqa: E731
        lines.append(
            f"  equilibria: {len(self.branches)} branch(es); stable for {sym} in {fmt(self.rest)}"
        )
        for pt in self.points:
            if pt.kind in ("fold", "hopf", "branch point"):
                extra = f" ({pt.criticality})" if pt.kind == "hopf" and pt.criticality else ""
                lines.append(
                    f"    {pt.kind}{extra} at {sym} = {pt.parameter:.8g}{u}, V = {pt.v:.5g}"
                )
        lines.append(
            f"  limit cycles: {len(self.cycles)} branch(es); stable (firing) for "
            f"{sym} in {fmt(self.firing)}"
        )
        for pt in self.points:
            if pt.kind not in ("fold", "hopf", "branch point"):
                lines.append(
                    f"    {pt.kind} at {sym} = {pt.parameter:.8g}{u}, period {pt.period:.5g} ms"
                )
        span = hi - lo
        for o in self.onsets:
            # just inside the firing range: is rest stable there too? then this edge only
            # bounds a bistable range (rest is not lost: no onset of firing from rest)
            inside = o.edge + (1e-6 if o.side == "lower" else -1e-6) * max(span, 1.0)
            with_rest = any(a <= inside <= b for a, b in self.rest)
            if with_rest:
                verb = (
                    "stable firing appears beside stable rest (edge of a bistable range, "
                    "not an onset from rest)"
                    if o.side == "lower"
                    else "stable firing disappears, rest stays stable (edge of a bistable range)"
                )
            else:
                verb = "firing starts" if o.side == "lower" else "firing stops"
            src = ""
            if o.parameter != o.edge:
                src = f" (the branch comes from {sym} = {o.parameter:.8g})"
            law = ""
            if o.law is not None:
                law = (
                    f"; period ∝ |{sym} − {o.law.critical:.6g}|^{o.law.exponent:.3f}, "
                    f"{o.law.better} law fits better"
                )
            lines.append(f"  {verb} (going up) at {sym} = {o.edge:.8g}{u}: {o.label}{src}{law}")
        lines.append(f"  bistable (stable rest and firing): {fmt(self.bistable)}")
        return "\n".join(lines)

    def __repr__(self):
        pts = self._points_text()
        ons = ", ".join(f"{o.label} at {o.edge:.6g}" for o in self.onsets)
        return (
            f"BifurcationDiagram({self.model}, {self.parameter_name}: "
            f"{len(self.branches)} equilibrium branch(es), {len(self.cycles)} cycle "
            f"branch(es), [{pts}], onsets [{ons}], bistable {self.bistable})"
        )


# ---------------------------------------------------------------------------------------
# intervals


def _union(ivs):
    out = []
    for a, b in sorted(ivs):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersect(xs, ys):
    out = []
    for a, b in xs:
        for c, d in ys:
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                out.append((lo, hi))
    return _union(out)


def _rows(branch) -> np.ndarray:
    """`(x, p)` along an equilibrium branch or `(x0, p)` along a cycle branch."""
    x = branch.x if hasattr(branch, "x") else branch.state
    return np.column_stack([x, branch.parameter])


def _point_row(pt, variables) -> np.ndarray:
    return np.array([float(getattr(pt.state, v)) for v in variables] + [pt.parameter])


def _between(branch, points, a: int, b: int):
    """The located point of `points` on the branch between samples `a` and `b` (closest to
    the chord between them, and no farther from it than the chord is long), or None."""
    if not points:
        return None
    z = _rows(branch)
    za, zb = z[a], z[b]
    scale = 1.0 + np.abs(z).max(axis=0)
    chord = (zb - za) / scale
    length = np.linalg.norm(chord)
    best, dist = None, np.inf
    for pt in points:
        w = (_point_row(pt, branch.variables) - za) / scale
        s = np.clip(w @ chord / max(length**2, 1e-300), 0.0, 1.0)
        d = np.linalg.norm(w - s * chord)
        if d < dist:
            best, dist = pt, d
    return best if dist <= max(length, 1e-9) else None


def _stable_intervals(branch, points) -> list[tuple[float, float]]:
    """Parameter ranges of the stable runs of a branch (equilibria or cycles), each run
    extended to the located bifurcation points that bound it."""
    p = np.asarray(branch.parameter)
    st = np.asarray(branch.stable, dtype=bool)
    out, i = [], 0
    while i < len(p):
        if not st[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(p) and st[j + 1]:
            j += 1
        seg = list(p[i : j + 1])
        for a, b in ((i - 1, i), (j, j + 1)):
            if 0 <= a and b < len(p):
                pt = _between(branch, points, a, b)
                seg.append(pt.parameter if pt is not None else 0.5 * (p[a] + p[b]))
        out.append((float(min(seg)), float(max(seg))))
        i = j + 1
    return out


# ---------------------------------------------------------------------------------------
# equilibria


def _on_branch(x: np.ndarray, p: float, branches: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    z = np.append(x, p)
    for zs, _ in branches:
        d = np.max(np.abs(zs - z), axis=1) / (1.0 + np.max(np.abs(z)))
        if np.min(d) < 1e-6:
            return True
    return False


def _equilibrium_branches(
    system, name, start, stop, bounds, v_range, max_step, min_step, max_points
):
    traced: list[tuple[np.ndarray, np.ndarray]] = []
    for p_end, direction in ((start, np.sign(stop - start)), (stop, np.sign(start - stop))):
        for x in find_equilibria(system, p_end, v_range):
            if _on_branch(x, p_end, traced):
                continue
            traced.append(
                trace(
                    system,
                    x,
                    p_end,
                    bounds,
                    direction,
                    max_step=max_step,
                    min_step=min_step,
                    max_points=int(max_points),
                )
            )
    return tuple(analyse_branch(system, zs, ts, name) for zs, ts in traced)


# ---------------------------------------------------------------------------------------
# cycles


@eqx.filter_jit
def _probe_runs(system: System, xs, ps, dt, n_settle: int, n_window: int):
    """Simulate from each row of `xs` at the parameter `ps[i]`; `detect_cycle` on V; the
    state at the V maximum of the last full period, and the period."""

    def one(x0, p):
        path = trajectory(system, x0, p, dt, n_settle, n_window)
        v = path[:, system.v_index]
        cyc = detect_cycle(v, dt, 1e-2)
        idx = jnp.arange(v.shape[0])
        inside = (idx >= cyc.i0) & (idx < cyc.i1)
        k = jnp.argmax(jnp.where(inside, v, -jnp.inf))
        return cyc.oscillating, cyc.period, path[k]

    return jax.vmap(one)(xs, ps)


def _probe_starts(system, branches, values, kicks, v_range):
    """Starting states for the firing search at each probe value: every equilibrium there
    kicked to `kicks` voltages across `v_range`, and the unstable ones nudged."""
    xs, ps = [], []
    k = system.v_index
    for p in values:
        for b in branches:
            par = b.parameter
            for i in range(len(par) - 1):
                lo, hi = sorted((par[i], par[i + 1]))
                if not lo <= p <= hi or hi == lo:
                    continue
                w = (p - par[i]) / (par[i + 1] - par[i])
                x = (1 - w) * b.x[i] + w * b.x[i + 1]
                if not (b.stable[i] and b.stable[i + 1]):
                    xs.append(x + 1e-3 * (1.0 + np.abs(x)))
                    ps.append(p)
                for v in np.linspace(v_range[0], v_range[1], int(kicks) + 2)[1:-1]:
                    y = x.copy()
                    y[k] = v
                    xs.append(y)
                    ps.append(p)
    return np.array(xs).reshape(-1, system.n), np.array(ps)


def _on_cycle_branch(p, period, vmax, branches) -> bool:
    for c in branches:
        par = c.parameter
        for i in range(len(par) - 1):
            lo, hi = sorted((par[i], par[i + 1]))
            if not lo - 1e-12 <= p <= hi + 1e-12:
                continue
            w = 0.0 if hi == lo else (p - par[i]) / (par[i + 1] - par[i])
            t = (1 - w) * c.period[i] + w * c.period[i + 1]
            vm = (1 - w) * c.v_max[i] + w * c.v_max[i + 1]
            amp = max(c.v_max[i] - c.v_min[i], 1e-9)
            if abs(t - period) < 0.02 * t and abs(vm - vmax) < 0.02 * amp:
                return True
    return False


def _merge(back: CycleContinuation, fwd: CycleContinuation) -> CycleContinuation:
    """One branch from two continuations of the same start in opposite directions: the
    first reversed, then the second without its (shared) first cycle."""
    k_back, k_fwd = len(back.parameter), len(fwd.parameter)
    fields = {}
    for f in dataclasses.fields(fwd):
        a, b = getattr(back, f.name), getattr(fwd, f.name)
        if f.name == "points":
            fields[f.name] = tuple(reversed(a)) + tuple(b)
        elif f.name == "end":
            fields[f.name] = f"{a} … {b}"
        elif isinstance(b, np.ndarray) and b.ndim and len(b) == k_fwd and len(a) == k_back:
            fields[f.name] = np.concatenate([a[::-1], b[1:]])
        elif isinstance(b, tuple) and len(b) == k_fwd and len(a) == k_back and k_fwd > 0:
            fields[f.name] = tuple(a[::-1]) + tuple(b[1:])
        else:
            fields[f.name] = b
    return dataclasses.replace(fwd, **fields)


def _cycle_branches(
    model,
    system,
    name,
    parameter,
    current,
    branches,
    hopfs,
    bounds,
    v_range,
    search: CycleSearch,
    meter: AbstractProgressMeter,
):
    """Cycle branches from every Hopf point, then from every stable cycle found by
    simulation that lies on none of them. Returns `[(branch, first_end, last_end)]`."""
    lo, hi = bounds
    span = hi - lo

    def opts(period):
        # arclength steps in (x0, T, p): near an infinite-period end the period (ms)
        # dominates, so the bound scales with the cycle's own period
        step = search.max_step or max(span / 10, 0.5 * float(period))
        return dict(
            parameter=parameter,
            current=current,
            bounds=bounds,
            max_step=step,
            max_points=int(search.max_points),
        )

    far = hi + 10 * span  # never crossed before the bounds are left
    out = []
    for h in hopfs:
        try:
            c = continue_cycle(model, h, far, **opts(h.period))
        except (NoCycleError, ValueError) as e:
            warnings.warn(f"no cycle branch from {h!r}: {e}", stacklevel=3)
            continue
        out.append((c, "hopf", c.end))
        meter.write(
            f"bifurcation_diagram: cycles from the Hopf point at {name} = {h.parameter:.6g}: "
            f"{len(c)} cycles, end: {c.end}"
        )
    if search.probes:
        meter.write(f"bifurcation_diagram: simulating at {int(search.probes)} probe values")
        values = np.linspace(lo, hi, int(search.probes) + 2)[1:-1]
        xs, ps = _probe_starts(system, branches, values, search.kicks, v_range)
        if len(xs):
            n_settle = int(round(search.settle / search.dt))
            n_window = int(round(search.window / search.dt))
            osc, per, x_peak = (
                np.asarray(a)
                for a in _probe_runs(
                    system,
                    jnp.asarray(xs),
                    jnp.asarray(ps),
                    jnp.asarray(search.dt, dtype=jnp.float64),
                    n_settle,
                    n_window,
                )
            )
            for i in np.flatnonzero(osc):
                if _on_cycle_branch(
                    ps[i], per[i], x_peak[i][system.v_index], [c for c, _, _ in out]
                ):
                    continue
                try:
                    orbit = find_cycle(
                        model,
                        ps[i],
                        parameter=parameter,
                        current=current,
                        guess=x_peak[i],
                        period=per[i],
                    )
                except NoCycleError:
                    continue
                if not orbit.stable or _on_cycle_branch(
                    orbit.parameter, orbit.period, orbit.v_max, [c for c, _, _ in out]
                ):
                    continue
                try:
                    halves = [
                        continue_cycle(model, orbit, end, **opts(orbit.period)) for end in (lo, hi)
                    ]
                except (NoCycleError, ValueError) as e:
                    warnings.warn(
                        f"the cycle found by simulation at {name}={ps[i]:.6g} could not be "
                        f"continued ({e}); it is left out of the diagram.",
                        stacklevel=3,
                    )
                    continue
                out.append((_merge(*halves), halves[0].end, halves[1].end))
                meter.write(
                    f"bifurcation_diagram: cycles through the one simulated at {name} = "
                    f"{ps[i]:.6g}: {len(out[-1][0])} cycles"
                )
    return out


# ---------------------------------------------------------------------------------------
# onsets


def _nearest(points, p, kind):
    cand = [pt for pt in points if pt.kind == kind]
    return min(cand, key=lambda pt: abs(pt.parameter - p)) if cand else None


def _infinite_period(system, c, i_end, step, eq_points, span):
    """Classify the period → ∞ end `i_end` of cycle branch `c` (`step` = +1 if the end is
    the last point, −1 if the first): SNIC at a fold of equilibria, else homoclinic to a
    saddle; with the period law fitted to the approach."""
    # from the branch interior to the end
    order = np.arange(len(c.parameter)) if step > 0 else np.arange(len(c.parameter))[::-1]
    per = c.period[order]
    par = c.parameter[order]
    p_end = float(par[-1])
    # the approach: the final monotone stretch where the period has at least doubled
    m = len(per) - 1
    while m > 0 and per[m - 1] < per[m] and per[m - 1] > 1.5 * per.min():
        m -= 1
    approach = slice(max(0, min(m, len(per) - 6)), len(per))
    fold = _nearest(eq_points, p_end, "fold")
    v_lo, v_hi = c.v_min[order][-1], c.v_max[order][-1]
    tol = 1e-3 * span
    if fold is not None and abs(fold.parameter - p_end) < tol and v_lo - 1 <= fold.v <= v_hi + 1:
        pp, tt = par[approach], per[approach]
        keep = np.abs(pp - fold.parameter) > 0
        law = None
        if keep.sum() >= 4:
            law = period_law(pp[keep], tt[keep], fold.parameter)
        return "snic", fold.parameter, fold, law
    # the homoclinic parameter lies just beyond the last cycle (the continuation's
    # parameter converges to it like exp(−λ_u·T)): fitted, as the p_c that makes the
    # logarithmic law fit best, among p_end + 10^-k beyond the end
    pp, tt = par[approach], per[approach]
    law = None
    if len(pp) >= 4:
        beyond = np.sign(p_end - pp[0])
        fits = [
            period_law(pp, tt, p_end + beyond * g)
            for g in np.geomspace(1e-10, 1e-2, 33) * max(span, 1.0)
        ]
        law = min(fits, key=lambda f: f.log_rms)
    xs = find_equilibria(system, p_end, (min(v_lo, v_hi) - 1.0, max(v_lo, v_hi) + 1.0))
    saddle = None
    for x in xs:
        fp = make_fixed_point(system, x, p_end)
        if fp.stability == "saddle":
            saddle = fp
    return "homoclinic", (law.critical if law is not None else p_end), saddle, law


def _diverging(c, k: int) -> bool:
    """Whether the continuation stopped (for any reason: a step collapse, a "fold" with a
    vertical tangent) while approaching an infinite period: the period at the end `k` at
    least 3× the branch's shortest, and the cycle strongly attracting (every nontrivial
    multiplier below 0.5 in modulus — a fold of cycles needs one at +1). Near a
    homoclinic orbit the parameter converges while the period grows, which turns the
    branch's tangent vertical in the parameter like a fold would."""
    mu = np.abs(np.asarray(c.multipliers[k])[1:])
    return bool(c.period[k] >= 3.0 * np.min(c.period) and len(mu) and mu.max() < 0.5)


def _origin(system, c, i, step, first_end, last_end, eq_points, span, others=()):
    """Where the branch `c` leads, walking from index `i` in direction `step` to its end:
    `(kind, parameter, point, law)`."""
    at_end_first = step < 0
    reason = first_end if at_end_first else last_end
    k = 0 if at_end_first else len(c.parameter) - 1
    p_end = float(c.parameter[k])
    if reason == "hopf" or reason.startswith("amplitude"):
        h = _nearest(eq_points, p_end, "hopf")
        return "hopf", (h.parameter if h else p_end), h, None
    if reason.startswith("period") or _diverging(c, k):
        return _infinite_period(system, c, k, -1 if at_end_first else 1, eq_points, span)
    if reason.startswith("closed"):
        return "fold of cycles", None, None, None
    if reason.startswith("fold of cycles"):  # located, and not passed
        folds = [pt for pt in c.points if pt.kind == "fold of cycles"]
        if folds:
            f = min(folds, key=lambda pt: abs(pt.parameter - p_end))
            return "fold of cycles", f.parameter, f, None
    # stopped short (max points, step collapse): the same cycles may lie on another
    # branch, traced from a Hopf point
    for other, other_first, _ in others:
        if other is c or other_first != "hopf":
            continue
        if _on_cycle_branch(p_end, float(c.period[k]), float(c.v_max[k]), [other]):
            h = _nearest(eq_points, float(other.parameter[0]), "hopf")
            if h is not None:
                return "hopf", h.parameter, h, None
    return None, p_end, None, None


def _onsets(system, cycles, eq_points, bounds) -> tuple:
    span = bounds[1] - bounds[0]
    out = []
    for c, first_end, last_end in cycles:
        st = np.asarray(c.stable, dtype=bool)
        par = c.parameter
        for i, j in run_ends(st):
            for end, inner, step in ((i, j, -1), (j, i, 1)):
                at_branch_end = end == (0 if step < 0 else len(par) - 1)
                why = None  # why the continuation stopped, for an unresolved end
                if at_branch_end:
                    kind, where, point, law = _origin(
                        system, c, end, step, first_end, last_end, eq_points, span, cycles
                    )
                    edge = float(par[end])
                    if kind is None:
                        reason = first_end if step < 0 else last_end
                        inside = reason.startswith(("left bounds", "reached stop"))
                        kind = OnsetKind.INTERVAL_END if inside else OnsetKind.UNRESOLVED
                        why = None if inside else str(reason)
                        where = edge
                    kind = OnsetKind(kind)
                    if kind in (OnsetKind.SNIC, OnsetKind.HOMOCLINIC, OnsetKind.HOPF) and (
                        where is not None
                    ):
                        edge = float(where)
                else:
                    pt = _between(c, c.points, end, end + step)
                    edge = float(pt.parameter) if pt else float(par[end])
                    ptkind = pt.kind if pt else OnsetKind.FOLD_OF_CYCLES
                    if ptkind != OnsetKind.FOLD_OF_CYCLES:
                        kind, where, point, law = OnsetKind(ptkind), edge, pt, None
                    else:
                        kind, where, point, law = _origin(
                            system, c, end, step, first_end, last_end, eq_points, span, cycles
                        )
                        if kind is None or kind == OnsetKind.FOLD_OF_CYCLES:
                            kind, where, point, law = OnsetKind.FOLD_OF_CYCLES, edge, pt, None
                        kind = OnsetKind(kind)
                side = "lower" if par[inner] > edge else "upper"
                crit = getattr(point, "criticality", None) if kind == OnsetKind.HOPF else None
                out.append(
                    Onset(
                        edge=edge,
                        side=side,
                        kind=kind,
                        parameter=float(where if where is not None else edge),
                        criticality=crit,
                        point=point,
                        law=law,
                        reason=why,
                    )
                )
    out.sort(key=lambda o: (o.edge, o.side))
    uniq = []
    for o in out:
        if uniq and abs(uniq[-1].edge - o.edge) < 1e-6 * max(span, 1.0) and uniq[-1].side == o.side:
            continue
        uniq.append(o)
    return tuple(uniq)


# ---------------------------------------------------------------------------------------


def bifurcation_diagram(
    model: AbstractModel,
    start: float,
    stop: float,
    *,
    parameter: Callable | None = None,
    current: float = 0.0,
    v_range: tuple[float, float] = (-100.0, 60.0),
    max_step: float | None = None,
    min_step: float | None = None,
    max_points: int = 2000,
    cycles: bool | CycleSearch = True,
    progress_meter: AbstractProgressMeter = NoProgress(),
) -> BifurcationDiagram:
    """The whole bifurcation picture of `model` for a parameter from `start` to `stop`:
    equilibria with their stability, folds and Hopf points; limit cycles with theirs; how
    repetitive firing starts and stops; where rest and firing coexist.

    **Arguments**

    - `model`: a neuron with scalar parameters.
    - `start`, `stop`: the parameter interval (µA/cm² or nA for the current); an end
      outside the parameter's physical domain (`g_k >= 0`) is cut at its boundary, with
      a warning (and the reason in each branch's `end`); both outside is refused.
    - `parameter`: `None` for the injected current, or a selector `lambda m: m.g_k`.
    - `current`: the injected current when another parameter is varied.
    - `v_range`: voltages (mV) searched for the equilibria that seed the branches, and
      spanned by the kicks of the firing search.
    - `max_step`, `min_step`, `max_points`: of the equilibrium continuation (see
      `continuation`).
    - `cycles`: `True` (default) to compute the limit cycles of a model with two or more
      dynamical variables with the default `CycleSearch()`, a `CycleSearch` to tune it,
      or `False` for the equilibria only.
    - `progress_meter`: as for `simulate`: `NoProgress()` (default) or `TextProgress()`,
      a line per stage (equilibrium branches, each cycle branch, the firing search).

    **Method.** *Equilibria*: all equilibria at `start` and at `stop` (`fixed_points`'
    search) seed pseudo-arclength continuations across the interval (a seed already on a
    traced branch is skipped); folds and Hopf points are located on each (see
    `continuation`). Branches that meet neither end (isolas) are not found.
    *Cycles*: from every Hopf point, the branch of cycles born there is continued
    (`continue_cycle`: shooting with the autodiff monodromy matrix, pseudo-arclength
    steps, folds of cycles, period doublings and tori located) until it leaves the
    interval, shrinks to a Hopf point, its period grows without bound, or it closes.
    Then the model is simulated from every equilibrium, kicked to several voltages, at
    `CycleSearch.probes` parameter values; each stable cycle found that lies on no branch
    yet is refined (`find_cycle`) and continued both ways. A cycle family that no
    equilibrium bifurcation creates (the reduced HH's: born in folds of cycles) is found
    this way — if it is stable at some probe.
    *Onsets*: each end of a run of stable cycles is an `Onset`: the branch is followed
    from there, through folds of cycles, to where it comes from (Hopf point,
    saddle-node on an invariant circle or homoclinic orbit, told apart by whether a fold
    of equilibria sits where the period diverges, with the period's growth law fitted as
    evidence — `PeriodLaw`).

    **Returns** a `BifurcationDiagram`: `.plot()`, `.summary()`, `.bistable`.

    Not traceable; runs in float64.
    """
    v_range = check_range("v_range", v_range)
    start, stop, max_step, min_step = check_interval(
        start, stop, max_step, min_step, "bifurcation_diagram"
    )
    check_max_points("bifurcation_diagram", max_points)
    if isinstance(cycles, bool):
        search = CycleSearch() if cycles else None
    elif isinstance(cycles, CycleSearch):
        search = cycles
    else:
        raise TypeError(
            "cycles must be True, False or a CycleSearch(...) (how to look for limit "
            f"cycles), got {type(cycles).__name__}."
        )
    check_instance(
        "bifurcation_diagram(progress_meter=...)",
        progress_meter,
        AbstractProgressMeter,
        "neurojax.TextProgress()",
    )
    meter = progress_meter
    name = parameter_name(model, parameter)
    # a parameter with a physical domain (g_k >= 0): an end outside it is cut at the
    # boundary (warned, and in the `end` of each branch that reaches it)
    start, stop, note = clip_to_domain(
        model, parameter, start, stop, min_step, "bifurcation_diagram", both_ends=True
    )
    bounds = (min(start, stop), max(start, stop))
    with float64():
        system = make_system(
            model, current=current, parameter=parameter, caller="bifurcation_diagram"
        )
        branches = _equilibrium_branches(
            system, name, start, stop, bounds, v_range, max_step, min_step, max_points
        )
        if note:
            warnings.warn(f"bifurcation_diagram: {note}.", stacklevel=2)
            edge = start if "not at start=" in note else stop
            branches = tuple(
                mark_domain_end(b, (edge, note), min_step, warn=False) for b in branches
            )
        eq_points = sorted((pt for b in branches for pt in b.points), key=lambda b: b.parameter)
        meter.write(
            f"bifurcation_diagram: {len(branches)} equilibrium branch(es), "
            f"{len(eq_points)} bifurcation(s) of equilibria"
        )
        found = []
        if search is not None and system.n >= 2:
            hopfs = [pt for pt in eq_points if pt.kind == "hopf"]
            found = _cycle_branches(
                model,
                system,
                name,
                parameter,
                current,
                branches,
                hopfs,
                bounds,
                v_range,
                search,
                meter,
            )
        onsets = _onsets(system, found, eq_points, bounds)
    cyc = tuple(c for c, _, _ in found)
    span = bounds[1] - bounds[0]
    infinite = [o.parameter for o in onsets if o.kind.infinite_period]
    cycle_points = []
    for pt in sorted((pt for c in cyc for pt in c.points), key=lambda b: b.parameter):
        tol = 1e-6 * max(span, 1.0)
        if any(abs(pt.parameter - q) < 1e-3 * span for q in infinite):
            continue  # an infinite-period approach reported as a vertical tangent
        if any(q.kind == pt.kind and abs(q.parameter - pt.parameter) < tol for q in cycle_points):
            continue  # the same point, found on two branches that overlap
        cycle_points.append(pt)
    points = sorted([*eq_points, *cycle_points], key=lambda b: b.parameter)
    return BifurcationDiagram(
        branches=branches,
        points=tuple(points),
        cycles=cyc,
        onsets=onsets,
        parameter_name=name,
        interval=bounds,
        units=units_of(
            model,
            ("current", name, *system.variables),
            voltage=system.variables[system.v_index],
        ),
        model=system.model_name,
    )


def steady_state_current(model: AbstractModel, v, *, n_iter: int = 30) -> np.ndarray:
    """The steady-state I–V curve `I∞(V)`: the constant current (µA/cm² or nA) that makes
    `V` an equilibrium, every other dynamical variable at its steady state at `V`.

    Equilibria at current `I` are the solutions of `I∞(V) = I`; folds of the equilibrium
    branch (saddle-nodes) are the extrema of `I∞` (`dI∞/dV = 0`). Computed by Newton on
    `(other variables, I)` at each fixed `V`, in float64.
    """
    if isinstance(v, (str, bytes)) or v is None:
        raise TypeError(f"steady_state_current: v must be voltages (mV), got {v!r}.")
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(
            f"steady_state_current: v must be a non-empty array of finite voltages, got {v}."
        )
    if (
        isinstance(n_iter, (bool, np.bool_))
        or not isinstance(n_iter, (int, np.integer))
        or n_iter < 1
    ):  # n_iter=0 returned NaN for every voltage
        raise ValueError(
            f"steady_state_current: n_iter must be an int >= 1 (Newton iterations), got "
            f"{n_iter!r}."
        )
    with float64():
        system = make_system(model, caller="steady_state_current")
        # unknowns (x, I) with V held: f(x, I) = 0 and e_V·(x, I) = V
        k = system.v_index
        z0 = np.tile(np.append(np.asarray(system.initial()), 0.0), (v.size, 1))
        z0[:, k] = v.ravel()
        d = np.zeros(system.n + 1)
        d[k] = 1.0
        r = solve_rows(system, z0, d=d, c=z0[:, k], rtol=1e-12, max_steps=int(n_iter))
        out = np.where(r.ok, r.z[:, -1], np.nan)
    return out.reshape(v.shape)
