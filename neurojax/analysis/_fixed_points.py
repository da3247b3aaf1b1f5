"""Equilibria of one neuron's vector field, their Jacobian eigenvalues and stability."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._errors import check_bool
from .._model import AbstractModel
from ._newton import f64, jacobian_batch, newton_batch, slaved_batch
from ._system import System, check_range, float64, make_system, state_to_numpy

STABILITY_CLASSES = (
    "stable node",
    "stable focus",
    "unstable node",
    "unstable focus",
    "saddle",
    "non-hyperbolic",
)


def classify(eigenvalues, rtol: float = 1e-9) -> str:
    """The stability class of an equilibrium from its Jacobian eigenvalues.

    - all real parts < 0: **stable**; a *focus* when some eigenvalues are a complex pair
      (trajectories approach with damped oscillations, as the HH rest state), else a *node*;
    - all real parts > 0: **unstable** focus or node, alike;
    - both signs: **saddle**, except when the only unstable eigenvalues are one complex
      pair: an *unstable focus* (in n > 2 dimensions strictly a saddle-focus: the rest state
      of HH past its Hopf bifurcation, which repels along a 2-D spiral);
    - a real part within `rtol·max|λ|` of 0: **non-hyperbolic** (a bifurcation point).

    In two dimensions these are the textbook classes of the trace–determinant plane.
    """
    try:
        ev = np.asarray(eigenvalues, dtype=complex)
    except (TypeError, ValueError):
        raise TypeError(f"classify: eigenvalues must be numbers, got {eigenvalues!r}.") from None
    if ev.ndim > 1:
        # a Jacobian passed as is: its entries would be classified as eigenvalues
        raise ValueError(
            f"classify: eigenvalues must be a 1-D array, got shape {ev.shape} (a Jacobian "
            "matrix?); pass np.linalg.eigvals(jacobian)."
        )
    if ev.size == 0 or not np.all(np.isfinite(ev)):
        raise ValueError(
            f"classify: eigenvalues must be a non-empty array of finite numbers, got "
            f"{eigenvalues!r} (a NaN eigenvalue has no stability class)."
        )
    # a negative rtol made every real eigenvalue "complex" (|imag| = 0 > crit): [-1, -2]
    # was a "stable focus"; NaN classified everything as a node or saddle (probes, s12)
    if (
        isinstance(rtol, (bool, np.bool_, str, bytes))
        or not isinstance(rtol, (int, float, np.number))
        or not (np.isfinite(rtol) and rtol >= 0)
    ):
        raise ValueError(
            f"classify: rtol must be a finite number >= 0 (the relative size of a real part "
            f"counted as 0), got {rtol!r}; the default is 1e-9."
        )
    crit = rtol * max(1.0, float(np.max(np.abs(ev))))
    re, cplx = ev.real, np.abs(ev.imag) > crit
    if np.any(np.abs(re) <= crit):
        return "non-hyperbolic"
    unstable = re > 0
    if not unstable.any():
        return "stable focus" if cplx.any() else "stable node"
    if unstable.all():
        return "unstable focus" if cplx.any() else "unstable node"
    if unstable.sum() == 2 and cplx[unstable].all():
        return "unstable focus"
    return "saddle"


@dataclasses.dataclass(frozen=True, repr=False)
class FixedPoint:
    """An equilibrium of a model's vector field.

    - `state`: the model's state NamedTuple (numpy float64 scalars), ready to pass as
      `simulate(..., state0=...)` for one neuron.
    - `v`: its membrane potential (mV, or the model's voltage unit).
    - `eigenvalues`: of the Jacobian of the dynamical variables `variables` (1/ms), sorted by
      decreasing real part.
    - `stability`: one of `"stable node"`, `"stable focus"`, `"unstable node"`,
      `"unstable focus"`, `"saddle"`, `"non-hyperbolic"` (see `classify`).
    - `jacobian`: `∂f/∂x` over `variables` (1/ms, in the model's units).
    - `parameter`: the injected current (or the varied parameter's value) it belongs to.
    - `variables`: names of the dynamical variables, the order of `jacobian`.
    """

    state: Any
    v: float
    eigenvalues: np.ndarray
    stability: str
    jacobian: np.ndarray
    parameter: float
    variables: tuple[str, ...]

    @property
    def stable(self) -> bool:
        """Linearly stable: every eigenvalue has a negative real part."""
        return bool(np.all(self.eigenvalues.real < 0))

    @property
    def x(self) -> np.ndarray:
        """The dynamical variables as a vector, in the order of `variables`."""
        return np.array([getattr(self.state, n) for n in self.variables], dtype=np.float64)

    def __repr__(self):
        ev = ", ".join(f"{z.real:.4g}{z.imag:+.4g}j" for z in self.eigenvalues)
        return f"FixedPoint(v={self.v:.6g}, stability={self.stability!r}, eigenvalues=[{ev}])"


def eigen(jacobian: np.ndarray) -> np.ndarray:
    """Eigenvalues sorted by decreasing real part (numpy: works on every JAX backend)."""
    ev = np.linalg.eigvals(np.asarray(jacobian, dtype=np.float64))
    return ev[np.lexsort((-ev.imag, -ev.real))]


def make_fixed_point(system: System, x, p) -> FixedPoint:
    x = np.asarray(x, dtype=np.float64)
    jac = jacobian_batch(system, x[None], [p])[0]
    ev = eigen(jac)
    return FixedPoint(
        state=state_to_numpy(system, x),
        v=float(x[system.v_index]),
        eigenvalues=ev,
        stability=classify(ev),
        jacobian=jac,
        parameter=float(p),
        variables=system.variables,
    )


def dedupe(xs: np.ndarray, rtol: float = 1e-7) -> np.ndarray:
    """Rows of `xs` with near-duplicates (max-norm, relative `rtol`) removed."""
    kept: list[np.ndarray] = []
    for x in xs:
        if not any(np.max(np.abs(x - y)) <= rtol * (1.0 + np.max(np.abs(y))) for y in kept):
            kept.append(x)
    return np.array(kept).reshape(len(kept), xs.shape[1])


def as_flat(system: System, state) -> np.ndarray:
    """A user-given state (the model's NamedTuple, a `FixedPoint`, or an array of the
    dynamical variables) as the vector `x`."""
    if isinstance(state, FixedPoint):
        state = state.state
    if hasattr(state, "_fields"):
        return np.asarray(system.flatten(state))
    x = np.asarray(state, dtype=np.float64)
    if x.shape != (system.n,):
        raise ValueError(
            f"a state of {system.model_name} must be its state NamedTuple or an array of its "
            f"{system.n} dynamical variables {system.variables}, got shape {x.shape}."
        )
    return x


def as_seeds(system: System, seeds) -> np.ndarray:
    """Starting points given as one state, a list of states / `FixedPoint`s, or an array
    `(k, n_dynamical)`, as rows of `x`."""
    if isinstance(seeds, FixedPoint) or hasattr(seeds, "_fields"):
        seeds = [seeds]
    if isinstance(seeds, (list, tuple)):
        return np.array([as_flat(system, s) for s in seeds]).reshape(-1, system.n)
    seeds = np.asarray(seeds, dtype=np.float64)
    if seeds.ndim == 1:
        seeds = seeds[None]
    if seeds.ndim != 2 or seeds.shape[1] != system.n:
        raise ValueError(
            f"seeds for {system.model_name} must be states or an array (k, {system.n}) of its "
            f"dynamical variables {system.variables}, got shape {seeds.shape}."
        )
    return seeds


def find_equilibria(
    system: System,
    p: float,
    v_range: tuple[float, float],
    n_grid: int = 2001,
    seeds: np.ndarray | None = None,
    include_virtual: bool = False,
) -> np.ndarray:
    """All equilibria `x` (rows, sorted by voltage) of `system` at parameter `p` whose
    voltage lies in `v_range`. Seeds: sign changes and local minima of `dv/dt` along the
    steady-state curve on an `n_grid` voltage grid, plus the given `seeds`; each is polished
    by Newton with the autodiff Jacobian; duplicates are merged."""
    lo, hi = v_range
    vs = f64(np.linspace(lo, hi, int(n_grid)))
    xg, g, ok = (np.asarray(a) for a in slaved_batch(system, vs, f64(p)))
    g = np.where(ok & np.isfinite(g), g, np.nan)
    starts = []
    sign_change = (g[:-1] * g[1:] <= 0) & np.isfinite(g[:-1]) & np.isfinite(g[1:])
    for i in np.flatnonzero(sign_change):
        denom = g[i] - g[i + 1]
        theta = 0.5 if denom == 0 else g[i] / denom
        starts.append(xg[i] + theta * (xg[i + 1] - xg[i]))
    a = np.abs(g)
    interior = np.flatnonzero(np.isfinite(a[1:-1]) & (a[1:-1] < a[:-2]) & (a[1:-1] < a[2:])) + 1
    # tangent (double) roots and roots closer together than the grid: local minima of |dv/dt|
    interior = interior[np.argsort(a[interior])][:64]
    starts.extend(xg[interior])
    if seeds is not None:
        starts.extend(np.asarray(seeds, dtype=np.float64).reshape(-1, system.n))
    if not starts:
        return np.zeros((0, system.n))
    x, conv, reset = newton_batch(system, np.array(starts), p)
    v = x[:, system.v_index]
    margin = 1e-9 * (abs(lo) + abs(hi) + 1.0)
    keep = conv & np.all(np.isfinite(x), axis=1) & (v >= lo - margin) & (v <= hi + margin)
    if not include_virtual:
        keep &= ~reset
    x = dedupe(x[keep])
    return x[np.argsort(x[:, system.v_index])]


def fixed_points(
    model: AbstractModel,
    current: float = 0.0,
    *,
    v_range: tuple[float, float] = (-100.0, 60.0),
    n_grid: int = 2001,
    seeds=None,
    include_virtual: bool = False,
) -> list[FixedPoint]:
    """All equilibria of one neuron at a constant injected `current`, with their stability.

    **Arguments**

    - `model`: a neuron with scalar parameters (HH, reduced HH, FitzHugh–Nagumo, LIF, ...).
    - `current`: the constant injected current (µA/cm² for conductance-based models, nA for
      integrate-and-fire models; dimensionless for FitzHugh–Nagumo).
    - `v_range`: `(low, high)`, the voltages searched (mV, or the model's voltage unit;
      for the dimensionless FitzHugh–Nagumo model pass e.g. `(-3, 3)`).
    - `n_grid`: voltages sampled along the steady-state curve to seed Newton.
    - `seeds`: extra starting points (state NamedTuples or arrays of the dynamical
      variables), for equilibria that are not on the steady-state curve's sign changes.
    - `include_virtual`: also return equilibria of the ODE that the model's reset removes
      (an integrate-and-fire fixed point above threshold); dropped by default.

    **Method.** Along a grid of voltages, every other dynamical variable is set to its
    steady state at that voltage (for HH `m∞, h∞, n∞`), which leaves one equation
    `dv/dt = g(V) = 0` — the steady-state I–V relation; its sign changes (and the local
    minima of `|g|`, for tangent roots) seed Newton's method on the full system, with the
    Jacobian from `jax.jacfwd`, in float64. Variables with identically zero derivative
    are held at their initial value and left out of `variables`.

    **Returns** a non-empty list of `FixedPoint`s sorted by voltage.

    **Raises** `NoEquilibriumError` (a `ValueError`) when there is no equilibrium with its
    voltage in `v_range`, saying whether the vector field's zeros were all removed by the
    model's reset (an integrate-and-fire neuron above rheobase: it fires) or none was
    found, and what to try.
    """
    v_range = check_range("v_range", v_range)
    check_bool("fixed_points: include_virtual", include_virtual)  # "no" was truthy
    if (
        isinstance(n_grid, (bool, np.bool_))
        or not isinstance(n_grid, (int, np.integer))
        or int(n_grid) < 2
    ):
        # 2.5 was truncated to 2 voltages without a word
        raise ValueError(f"n_grid must be an int >= 2 (voltages), got {n_grid!r}.")
    with float64():
        system = make_system(model, current=current, caller="fixed_points")
        if seeds is not None:
            seeds = as_seeds(system, seeds)
        p = float(current)
        xs = find_equilibria(system, p, v_range, n_grid, seeds, include_virtual)
        if len(xs) == 0:
            virtual = find_equilibria(system, p, v_range, n_grid, seeds, include_virtual=True)
            raise NoEquilibriumError(_no_equilibrium_message(system, p, v_range, virtual))
        return [make_fixed_point(system, x, p) for x in xs]


class NoEquilibriumError(ValueError):
    """No equilibrium of the model where the analysis looked (a `ValueError`)."""


def _no_equilibrium_message(system: System, p: float, v_range, virtual: np.ndarray) -> str:
    name, lo, hi = system.model_name, *v_range
    where = f"{name} has no equilibrium at current={p:g} with V in v_range=({lo:g}, {hi:g})"
    if len(virtual):
        vs = ", ".join(f"{v:.6g}" for v in virtual[:, system.v_index])
        return (
            f"{where}: the vector field vanishes only at V = {vs}, where the model's "
            "threshold and reset (event_step) move the state at once, so the neuron fires "
            "repetitively instead of resting. Use fi_curve or limit_cycles for the firing, a "
            "smaller current for a resting state, or include_virtual=True to get these "
            "points of the ODE anyway."
        )
    return (
        f"{where}: dV/dt along the steady-state curve (every other variable at its steady "
        "state given V) does not vanish there, and Newton from the seeds did not converge "
        "to one. Try a wider v_range (in the model's voltage unit: e.g. (-3, 3) for the "
        "dimensionless FitzHugh–Nagumo model), a larger n_grid, or seeds= near a suspected "
        "equilibrium; or the neuron has no resting state at this current (it fires: see "
        "limit_cycles or fi_curve)."
    )
