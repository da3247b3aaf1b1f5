"""Bifurcation diagrams: every equilibrium branch over a parameter interval, their folds and
Hopf points, and (optionally) the stable limit cycles found by simulation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model import AbstractModel
from ._continuation import HasBifurcationPoints, analyse_branch, check_interval, trace
from ._cycles import LimitCycles, limit_cycles
from ._fixed_points import find_equilibria
from ._newton import root
from ._system import System, check_range, float64, make_system, parameter_name


@dataclasses.dataclass(frozen=True, repr=False)
class BifurcationDiagram(HasBifurcationPoints):
    """Equilibrium branches of a model over a parameter interval (see
    `bifurcation_diagram`).

    - `branches`: the `Branch`es (each with eigenvalues, stability and its own points).
    - `points`: all `BifurcationPoint`s, sorted by parameter.
    - `cycles`: the `LimitCycles` sweeps, or `None`.
    - `parameter_name`: `"current"` or the varied field.
    """

    branches: tuple
    points: tuple
    cycles: LimitCycles | None
    parameter_name: str

    def _diagram(self):
        """What `plot_bifurcation_diagram` draws: `(branches, points, cycles, name)`."""
        return self.branches, self.points, self.cycles, self.parameter_name

    def __repr__(self):
        pts = self._points_text()
        return (
            f"BifurcationDiagram({self.parameter_name}: {len(self.branches)} branch(es), "
            f"[{pts}], cycles={'yes' if self.cycles is not None else 'no'})"
        )


def _on_branch(x: np.ndarray, p: float, branches: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    z = np.append(x, p)
    for zs, _ in branches:
        d = np.max(np.abs(zs - z), axis=1) / (1.0 + np.max(np.abs(z)))
        if np.min(d) < 1e-6:
            return True
    return False


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
    cycles: bool = False,
    n_cycles: int = 41,
    cycle_options: dict | None = None,
) -> BifurcationDiagram:
    """Bifurcation diagram of `model` for a parameter from `start` to `stop`.

    **Arguments**

    - `model`: a neuron with scalar parameters.
    - `start`, `stop`: the parameter interval (µA/cm² or nA for the current).
    - `parameter`: `None` for the injected current, or a selector `lambda m: m.g_k`.
    - `current`: the injected current when another parameter is varied.
    - `v_range`: voltages searched for the equilibria that seed the branches.
    - `max_step`, `min_step`, `max_points`: see `continuation`.
    - `cycles`: also sweep `n_cycles` values with `limit_cycles` (up and down) for the
      stable limit-cycle branch (min/max V, period); `cycle_options` go to `limit_cycles`
      (`dt`, `transient`, `window`, ...).

    **Method.** All equilibria at `start` and at `stop` (`fixed_points`' search) seed
    pseudo-arclength continuations across the interval; a seed already on a traced branch
    (an S-shaped branch passes the interval's ends up to three times) is skipped. Each
    branch's folds and Hopf points are located (see `continuation`). Branches that meet
    neither end of the interval (isolas) are not found.
    """
    v_range = check_range("v_range", v_range)
    start, stop, max_step, min_step = check_interval(start, stop, max_step, min_step)
    name = parameter_name(model, parameter)
    bounds = (min(start, stop), max(start, stop))
    with float64():
        system = make_system(
            model, current=current, parameter=parameter, caller="bifurcation_diagram"
        )
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
        branches = tuple(analyse_branch(system, zs, ts, name) for zs, ts in traced)
    points = sorted((pt for b in branches for pt in b.points), key=lambda b: b.parameter)
    lc = None
    if cycles:
        values = np.linspace(bounds[0], bounds[1], int(n_cycles))
        lc = limit_cycles(
            model, values, parameter=parameter, current=current, **(cycle_options or {})
        )
    return BifurcationDiagram(
        branches=branches, points=tuple(points), cycles=lc, parameter_name=name
    )


@eqx.filter_jit
def _iv(system: System, vs, n_iter: int):
    k = system.v_index

    def one(v):
        # unknowns: the dynamical variables, with slot k (V, held fixed) holding I instead
        z0 = system.initial().at[k].set(0.0)

        def g(z):
            return system.f(z.at[k].set(v), z[k])

        z, ok, _ = root(g, z0, rtol=1e-12, max_steps=n_iter)
        return jnp.where(ok, z[k], jnp.nan)

    return jax.vmap(one)(vs)


def steady_state_current(model: AbstractModel, v, *, n_iter: int = 30) -> np.ndarray:
    """The steady-state I–V curve `I∞(V)`: the constant current (µA/cm² or nA) that makes
    `V` an equilibrium, every other dynamical variable at its steady state at `V`.

    Equilibria at current `I` are the solutions of `I∞(V) = I`; folds of the equilibrium
    branch (saddle-nodes) are the extrema of `I∞` (`dI∞/dV = 0`). Computed by Newton on
    `(other variables, I)` at each fixed `V`, in float64.
    """
    v = np.asarray(v, dtype=np.float64)
    with float64():
        system = make_system(model, caller="steady_state_current")
        out = np.asarray(_iv(system, jnp.asarray(v.ravel()), int(n_iter)))
    return out.reshape(v.shape)
