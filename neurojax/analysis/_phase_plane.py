"""Phase planes: nullclines, vector field, equilibria, trajectories and limit cycles."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import AbstractModel
from ._cycles import detect_cycle
from ._fixed_points import find_equilibria, make_fixed_point
from ._newton import slaved
from ._plot import plot_phase_plane
from ._system import SOLVER, System, apply_events, check_range, float64, make_system
from ._units import units_of


class Plane(eqx.Module):
    """Two dynamical variables `(i, j)` of a system; every other dynamical variable is
    slaved to its steady state given those two (Newton on its own equations)."""

    system: System
    i: int = eqx.field(static=True)
    j: int = eqx.field(static=True)

    @property
    def others(self) -> tuple[int, ...]:
        return tuple(k for k in range(self.system.n) if k not in (self.i, self.j))

    def lift(self, xy, p):
        """The full vector `x` with the plane's variables `xy` and the others slaved."""
        x = self.system.initial().at[self.i].set(xy[0]).at[self.j].set(xy[1])
        return slaved(self.system, x, p, (self.i, self.j))[0]

    def f(self, xy, p):
        dx = self.system.f(self.lift(xy, p), p)
        return jnp.stack([dx[self.i], dx[self.j]])

    def vector_field(self, t, xy, p):
        """`f` in a solver's calling convention (the parameter value as the input)."""
        return self.f(xy, p)

    def reset(self, xy, p, dt):
        """The model's `post_step` (threshold, reset) applied to the lifted state."""
        sys = self.system
        model, _ = sys.with_param(p)
        s = sys.state(self.lift(xy, p))
        new = apply_events(model, s, dt)
        x = sys.flatten(new)
        return jnp.stack([x[self.i], x[self.j]])


@eqx.filter_jit
def _field(plane: Plane, xy, p):
    return jax.vmap(lambda q: plane.f(q, p))(xy)


@eqx.filter_jit
def _integrate(plane: Plane, xy0, p, dt, n_steps: int, stride: int):
    """`SOLVER` (RK4) steps with the model's reset after each step, from each row of
    `xy0`; samples every `stride` steps, shaped `(n_rows, n_steps // stride + 1, 2)`."""

    def step(xy, _):
        new = SOLVER.step(plane, 0.0, xy, p, dt)
        return plane.reset(new, p, dt), None

    def block(xy, _):
        xy, _ = jax.lax.scan(step, xy, None, length=stride)
        return xy, xy

    def one(xy):
        _, path = jax.lax.scan(block, xy, None, length=n_steps // stride)
        return jnp.concatenate([xy[None], path])

    return jax.vmap(one)(xy0)


@eqx.filter_jit
def _cycles(paths, dt, min_amplitude):
    """`detect_cycle` on both variables of each path `(n_paths, k, 2)`."""
    return jax.vmap(jax.vmap(lambda v: detect_cycle(v, dt, min_amplitude), in_axes=1))(paths)


@dataclasses.dataclass(frozen=True, repr=False)
class PhasePlane:
    """A phase plane of a model in two of its variables (see `phase_plane`).

    - `variables`: `(x_name, y_name)`; `slaved`: the variables set to their steady state.
    - `current`: the injected current.
    - `x`, `y`: grid coordinates; `dx`, `dy`: `dx/dt`, `dy/dt` on it, shaped `(len(y), len(x))`.
    - `x_nullcline`, `y_nullcline`: curves (arrays `(k, 2)` of `(x, y)` points) where
      `dx/dt = 0` and `dy/dt = 0`.
    - `fixed_points`: equilibria in the window (`FixedPoint`s of the full model).
    - `trajectories`: arrays `(k, 2)`, sampled every `t_sample` ms from `t = 0`.
    - `limit_cycle`: one period of a stable limit cycle `(k, 2)` found by simulation, or
      `None`; `period` in ms.
    - `units`: `{name: unit}` of the current and the two variables (axis labels).
    """

    model: str
    variables: tuple[str, str]
    slaved: tuple[str, ...]
    current: float
    x: np.ndarray
    y: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    x_nullcline: list
    y_nullcline: list
    fixed_points: list
    trajectories: list
    limit_cycle: np.ndarray | None
    period: float | None
    t_sample: float
    units: dict = dataclasses.field(default_factory=dict)

    def __repr__(self):
        fps = ", ".join(f"{fp.stability} at {fp.v:.4g}" for fp in self.fixed_points)
        cyc = "none" if self.period is None else f"period {self.period:.4g} ms"
        return (
            f"PhasePlane({self.model} in {self.variables}, current={self.current:g}, "
            f"fixed points: [{fps}], limit cycle: {cyc})"
        )

    def plot(self, ax=None, **kwargs):
        """Draw it with matplotlib (see `neurojax.analysis.plot_phase_plane`)."""
        return plot_phase_plane(self, ax=ax, **kwargs)


def _contour(x, y, z) -> list[np.ndarray]:
    import contourpy

    gen = contourpy.contour_generator(x, y, np.where(np.isfinite(z), z, np.nan))
    return [np.asarray(line) for line in gen.lines(0.0) if len(line) > 1]


def _plane_of(system: System, variables) -> Plane:
    name = system.model_name
    listing = ", ".join(system.variables)
    if variables is None:
        if system.n != 2:
            frozen = f" ({', '.join(system.frozen)} held fixed)" if system.frozen else ""
            if system.n < 2:
                raise ValueError(
                    f"{name} has {system.n} dynamical variable ({listing}){frozen}; a phase "
                    "plane needs 2. A 1-D model has a phase line: use fixed_points() for its "
                    "equilibria."
                )
            raise ValueError(
                f"{name} has {system.n} dynamical variables ({listing}); a phase plane needs "
                f"exactly 2. Pass variables=({system.variables[0]!r}, "
                f"{system.variables[-1]!r}) (any two of them): the others are then slaved to "
                "their steady state."
            )
        return Plane(system, 0, 1)
    if isinstance(variables, str) or len(variables) != 2:
        raise ValueError(
            f"variables must name two of {name}'s dynamical variables ({listing}), "
            f"got {variables!r}."
        )
    idx = []
    for v in variables:
        if v not in system.variables:
            extra = (
                f" ({v!r} is not dynamical: its derivative is identically 0)"
                if v in system.frozen
                else ""
            )
            raise ValueError(
                f"{name} has no dynamical variable {v!r}{extra}; choose two of: {listing}."
            )
        idx.append(system.variables.index(v))
    if idx[0] == idx[1]:
        raise ValueError(f"variables must be two different variables, got {variables!r}.")
    return Plane(system, idx[0], idx[1])


N_KICKS = 9
"""Voltages (spread over `v_range`) of the kicks from each equilibrium that seed the
search for a stable limit cycle."""


def _cycle_seeds(plane: Plane, fps, v_range, x_range, y_range) -> list[np.ndarray]:
    """Starting points for the search for stable limit cycles, without user trajectories:
    just off each unstable equilibrium (a cycle around it attracts its unstable
    manifold), and from each equilibrium kicked to `N_KICKS` values of the voltage (or,
    when the voltage is not one of the plane's variables, of the plane's first variable
    across `x_range`, when given) — a depolarising kick from a stable rest state reaches
    a stable cycle that coexists with it."""
    seeds = []
    v = plane.system.v_index
    if plane.i == v or plane.j == v:
        k, span = (0 if plane.i == v else 1), v_range
    elif x_range is not None:
        k, span = 0, x_range
    else:
        k, span = None, None
    for fp in fps:
        xy = np.array([fp.x[plane.i], fp.x[plane.j]])
        if not fp.stable:
            seeds.append(xy + 1e-3 * (np.abs(xy) + 1.0))
        if k is not None:
            for value in np.linspace(span[0], span[1], N_KICKS + 2)[1:-1]:
                kicked = xy.copy()
                kicked[k] = value
                seeds.append(kicked)
    if not fps and x_range is not None and y_range is not None:
        gx, gy = np.meshgrid(np.linspace(*x_range, 4), np.linspace(*y_range, 4))
        seeds.extend(np.stack([gx.ravel(), gy.ravel()], axis=1))
    return seeds


def phase_plane(
    model: AbstractModel,
    current: float = 0.0,
    *,
    variables: Sequence[str] | None = None,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    trajectories: Sequence = (),
    t_max: float = 100.0,
    dt: float = 0.01,
    t_sample: float | None = None,
    limit_cycle: bool = True,
    t_settle: float = 500.0,
    min_amplitude: float = 1e-2,
    n_arrows: int = 21,
    resolution: int = 301,
    v_range: tuple[float, float] = (-100.0, 60.0),
) -> PhasePlane:
    """The phase plane of `model` at a constant injected `current`.

    **Arguments**

    - `model`: a neuron with scalar parameters. Two-variable models (reduced HH,
      FitzHugh–Nagumo, Morris–Lecar, Izhikevich, AdEx in `(v, w)`) need no `variables`.
    - `variables`: two dynamical variables `(x, y)` for a model with more, e.g.
      `("v", "n")` for HH. Every other variable is **slaved to its steady state** given
      `(x, y)` — for HH in `(v, n)`: `m = m∞(V)`, `h = h∞(V)`. This quasi-steady-state
      reduction makes Na⁺ inactivation instantaneous, so the plane shows no action
      potential; `ReducedHH` (`n = h_plus_n − h`) is the reduction that keeps it.
      Equilibria of the slaved system are exactly those of the full model (all
      derivatives vanish); the `fixed_points` reported carry the full model's eigenvalues
      and stability.
    - `x_range`, `y_range`: the window `(low, high)`; by default the box around the
      equilibria, trajectories and limit cycle, padded by 15 %.
    - `trajectories`: starting points `(x0, y0)` integrated for `t_max` ms (RK4, step `dt`,
      with the model's reset applied after each step, so AdEx/Izhikevich trajectories jump).
    - `t_sample`: sampling of the integration (default `dt`); returned trajectories are
      thinned to at most 4000 points.
    - `limit_cycle`: look for a stable limit cycle by simulation, no trajectories needed:
      from the trajectories' starts, from just off each unstable equilibrium, and from
      each equilibrium kicked to 9 voltages across `v_range` (a stable cycle that coexists
      with a stable rest state, as in `ReducedHH`, is found this way), integrate
      `t_settle` ms, then test a further `t_settle` ms for periodic motion of amplitude
      > `min_amplitude` (`detect_cycle`). The first start that oscillates gives
      `limit_cycle` (user trajectories first); other coexisting stable cycles are not
      reported (see `bifurcation_diagram` for every cycle and its stability).
    - `n_arrows`, `resolution`: grid sizes of the vector field and of the nullcline grid.
    - `v_range`: voltages searched for equilibria (when `x_range` is not a voltage range).

    Units: the model's (mV, ms, µA/cm² for conductance-based models).
    """
    x_range = check_range("x_range", x_range, allow_none=True)
    y_range = check_range("y_range", y_range, allow_none=True)
    v_range = check_range("v_range", v_range)
    if not (np.isfinite(dt) and dt > 0 and np.isfinite(t_max) and t_max > 0):
        raise ValueError(f"dt and t_max must be > 0 ms, got dt={dt!r}, t_max={t_max!r}.")
    if t_max < dt:
        # 0 steps: every trajectory was its start point alone
        raise ValueError(f"t_max={t_max!r} ms is shorter than one step dt={dt!r} ms.")
    if t_sample is not None and not (np.isfinite(t_sample) and dt <= t_sample <= t_max):
        raise ValueError(
            f"t_sample={t_sample!r} ms must lie in [dt, t_max] = [{dt!r}, {t_max!r}] ms."
        )
    for name, n, least in (("n_arrows", n_arrows, 2), ("resolution", resolution, 2)):
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < least:
            # n_arrows=0 failed in numpy ("Number of samples, -299"); resolution=1 drew
            # no nullcline
            raise ValueError(f"phase_plane: {name} must be an int >= {least}, got {n!r}.")
    starts_ = np.asarray(trajectories, dtype=np.float64)
    if starts_.size and (starts_.ndim > 2 or starts_.shape[-1] != 2):
        raise ValueError(
            f"phase_plane: trajectories must be starting points (x0, y0), shape (k, 2), got "
            f"shape {starts_.shape}."
        )
    if not np.all(np.isfinite(starts_)):  # a NaN start gave a NaN trajectory, drawn as nothing
        pairs = starts_.reshape(-1, 2)
        bad = pairs[~np.all(np.isfinite(pairs), axis=1)][:3].tolist()
        raise ValueError(
            f"phase_plane: trajectories must start at finite points (x0, y0), got {bad}."
        )
    with float64():
        system = make_system(model, current=current, caller="phase_plane")
        plane = _plane_of(system, variables)
        p = jnp.asarray(float(current), dtype=jnp.float64)
        names = (system.variables[plane.i], system.variables[plane.j])
        if x_range is not None and plane.i == system.v_index:
            v_range = x_range
        elif y_range is not None and plane.j == system.v_index:
            v_range = y_range
        xs = find_equilibria(system, float(current), v_range)
        fps = [make_fixed_point(system, x, float(current)) for x in xs]

        # trajectories, and the search for a limit cycle, in one integration
        starts = np.asarray(trajectories, dtype=np.float64).reshape(-1, 2)
        seeds = _cycle_seeds(plane, fps, v_range, x_range, y_range) if limit_cycle else []
        all_starts = np.concatenate([starts, np.array(seeds).reshape(-1, 2)])
        n_traj = int(round(t_max / dt))
        n_settle = int(round(t_settle / dt)) if limit_cycle else 0
        n_steps = max(n_traj, 2 * n_settle)
        stride = max(1, int(round((t_sample or dt) / dt)))
        n_steps = -(-n_steps // stride) * stride
        trajs, cycle, period, thin = [], None, None, 1
        if len(all_starts):
            out = np.asarray(
                _integrate(plane, jnp.asarray(all_starts), p, jnp.asarray(dt), n_steps, stride)
            )
            k_traj = n_traj // stride + 1
            thin = max(1, int(np.ceil((k_traj - 1) / 4000)))
            trajs = [path[:k_traj:thin] for path in out[: len(starts)]]
            if limit_cycle:
                k0 = out.shape[1] - n_settle // stride - 1
                found = _cycles(
                    jnp.asarray(out[:, k0:]), jnp.asarray(dt * stride), jnp.asarray(min_amplitude)
                )
                found = jax.tree_util.tree_map(np.asarray, found)
                # the first path that oscillates, in its first variable that does
                for r, c in zip(*np.nonzero(found.oscillating), strict=True):
                    period = float(found.period[r, c])
                    cycle = out[r, k0 + found.i0[r, c] : k0 + found.i1[r, c]]
                    break

        # the window
        def bounds(k, given):
            if given is not None:
                return given
            pts = [fp.x[[plane.i, plane.j]][k] for fp in fps]
            pts += [v for tr in trajs for v in tr[:, k][np.isfinite(tr[:, k])]]
            if cycle is not None:
                pts += list(cycle[:, k])
            if not pts:
                raise ValueError(
                    f"no equilibrium, trajectory or cycle to frame the window: give "
                    f"{'x' if k == 0 else 'y'}_range=(low, high)."
                )
            lo, hi = float(np.min(pts)), float(np.max(pts))
            pad = 0.15 * (hi - lo) if hi > lo else 0.5 * max(abs(lo), 1.0)
            return lo - pad, hi + pad

        x_range, y_range = bounds(0, x_range), bounds(1, y_range)

        def field(nx, ny):
            gx = np.linspace(*x_range, nx)
            gy = np.linspace(*y_range, ny)
            X, Y = np.meshgrid(gx, gy)
            xy = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))
            d = np.asarray(_field(plane, xy, p))
            return gx, gy, d[:, 0].reshape(X.shape), d[:, 1].reshape(X.shape)

        # one grid: the arrows are a subsample of the nullcline grid
        k = max(1, (int(resolution) - 1) // max(int(n_arrows) - 1, 1))
        fx, fy, fdx, fdy = field(k * (n_arrows - 1) + 1, k * (n_arrows - 1) + 1)
        gx, gy, dx, dy = fx[::k], fy[::k], fdx[::k, ::k], fdy[::k, ::k]
        inside = [
            fp
            for fp in fps
            if x_range[0] <= fp.x[plane.i] <= x_range[1]
            and y_range[0] <= fp.x[plane.j] <= y_range[1]
        ]
        return PhasePlane(
            model=system.model_name,
            variables=names,
            slaved=tuple(system.variables[k] for k in plane.others),
            current=float(current),
            x=gx,
            y=gy,
            dx=dx,
            dy=dy,
            x_nullcline=_contour(fx, fy, fdx),
            y_nullcline=_contour(fx, fy, fdy),
            fixed_points=inside,
            trajectories=trajs,
            limit_cycle=cycle,
            period=period,
            t_sample=dt * stride * thin,
            units=units_of(model, ("current", *names), voltage=system.variables[system.v_index]),
        )
