"""How repetitive firing starts and stops: the bifurcations at the ends of a model's stable
limit-cycle ranges, classified, with the period's growth law as evidence."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ._options import OnsetKind


@dataclasses.dataclass(frozen=True, repr=False)
class PeriodLaw:
    """How a cycle's period `T` (ms) grows as the parameter `p` approaches `critical`, where
    the period becomes infinite, fitted to periods measured near it (see `period_law`).

    - `critical`: `p_c` (µA/cm² for the current).
    - `exponent`, `amplitude`, `offset`: the power law `T ≈ offset + amplitude·|p − p_c|^exponent`,
      exponent fitted (least squares over the exponent; `offset`, `amplitude` linear). A
      saddle-node on an invariant circle gives `−1/2` (`T ≈ π/√(a·b·|p − p_c|)`, the time
      through the bottleneck of the normal form `ẋ = a·(p − p_c) + b·x²`).
    - `log_slope`, `log_offset`: the logarithmic law `T ≈ log_offset − log_slope·ln|p − p_c|`
      (least squares). A homoclinic orbit to a saddle gives `log_slope = 1/λ_u` (ms), `λ_u`
      the saddle's unstable eigenvalue (1/ms): the time spent near the saddle.
    - `power_rms`, `log_rms`: relative rms misfit of the square-root law (exponent fixed at
      −1/2, offset and amplitude fitted) and of the logarithmic law; both have two free
      constants, so they compare fairly.
    - `better`: `"square root"` or `"logarithmic"`, whichever misfit is smaller.
    - `parameter`, `period`: the data it was fitted to.
    """

    critical: float
    exponent: float
    amplitude: float
    offset: float
    log_slope: float
    log_offset: float
    power_rms: float
    log_rms: float
    parameter: np.ndarray
    period: np.ndarray

    @property
    def better(self) -> str:
        return "square root" if self.power_rms <= self.log_rms else "logarithmic"

    def __repr__(self):
        return (
            f"PeriodLaw(p_c={self.critical:.8g}: T ∝ |p − p_c|^{self.exponent:.3f} "
            f"(√-law misfit {self.power_rms:.2e}), T ≈ −{self.log_slope:.4g}·ln|p − p_c| "
            f"(misfit {self.log_rms:.2e}); {self.better} fits better)"
        )


def _lstsq(cols: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares of `y` (relative weights `1/y`) on the columns; `(coef, rel. rms)`."""
    a = np.stack(cols, axis=1) / y[:, None]
    coef, *_ = np.linalg.lstsq(a, np.ones_like(y), rcond=None)
    return coef, float(np.sqrt(np.mean((a @ coef - 1.0) ** 2)))


def period_law(parameter, period, critical: float) -> PeriodLaw:
    """Fit the two growth laws of a cycle's period near an infinite-period bifurcation at
    `critical`: the power law `T = c + A·|p − p_c|^β` (β fitted) and the logarithmic law
    `T = c − B·ln|p − p_c|`.

    **Arguments**

    - `parameter`: parameter values on one side of `critical` (µA/cm² for the current).
    - `period`: the cycle's period at each (ms), finite and positive; at least 4 points.
    - `critical`: where the period diverges: the fold of equilibria for a saddle-node on an
      invariant circle, the homoclinic parameter (e.g. where a cycle continuation ends with
      period → ∞) for a homoclinic orbit.

    Which law fits better is evidence for the bifurcation: `−1/2` for a saddle-node on an
    invariant circle (SNIC), logarithmic (slope `1/λ_u`) for a homoclinic orbit to a
    saddle. Fits are weighted by `1/T` (relative errors); the exponent is found by a
    scan over (−2, 0) refined by golden sections, each trial a linear least squares.
    """
    p = np.asarray(parameter, dtype=np.float64).ravel()
    t = np.asarray(period, dtype=np.float64).ravel()
    critical = float(critical)
    if p.shape != t.shape or len(p) < 4:
        raise ValueError(
            f"period_law needs >= 4 (parameter, period) pairs of equal length, got "
            f"{len(p)} parameter values and {len(t)} periods."
        )
    d = np.abs(p - critical)
    ok = np.isfinite(t) & (t > 0) & np.isfinite(d) & (d > 0)
    if not ok.all():
        raise ValueError(
            "period_law needs finite positive periods at parameters different from "
            f"critical={critical:g}; {int((~ok).sum())} pair(s) are not."
        )
    side = np.sign(p - critical)
    if not (np.all(side > 0) or np.all(side < 0)):
        raise ValueError(
            f"the parameter values must all lie on one side of critical={critical:g} "
            "(where the cycle exists)."
        )

    def misfit(beta):
        return _lstsq([np.ones_like(d), d**beta], t)

    grid = np.linspace(-2.0, -0.02, 100)
    k = int(np.argmin([misfit(b)[1] for b in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = misfit(a)[1], misfit(b)[1]
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = misfit(a)[1]
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = misfit(b)[1]
    beta = 0.5 * (lo + hi)
    (offset, amplitude), _ = misfit(beta)
    _, sqrt_rms = misfit(-0.5)
    (log_offset, neg_slope), log_rms = _lstsq([np.ones_like(d), np.log(d)], t)
    return PeriodLaw(
        critical=critical,
        exponent=float(beta),
        amplitude=float(amplitude),
        offset=float(offset),
        log_slope=float(-neg_slope),
        log_offset=float(log_offset),
        power_rms=sqrt_rms,
        log_rms=log_rms,
        parameter=p,
        period=t,
    )


@dataclasses.dataclass(frozen=True, repr=False)
class Onset:
    """One end of a range of stable repetitive firing (a stable limit cycle), and the
    bifurcation that makes it — how firing starts or stops as the parameter moves.

    - `edge`: the parameter where the stable cycle ends (µA/cm² for the current).
    - `side`: `"lower"` (the stable cycle exists above `edge`) or `"upper"` (below it).
    - `kind`: an `OnsetKind` (a `StrEnum`: `kind == "snic"` holds too): where the branch
      of cycles that carries the stable cycle comes from, followed from `edge` through any
      folds of cycles:
      `"hopf"` (it shrinks to an equilibrium at a Hopf point: `criticality` says
      `"subcritical"` — the branch turned at a fold of cycles, so firing starts with a
      jump, with rest and firing coexisting between the fold and the Hopf point — or
      `"supercritical"` — the stable cycle grows from zero amplitude at `edge`),
      `"snic"` (its period grows without bound at a fold of equilibria: a saddle-node on
      an invariant circle, firing from zero frequency, period ∝ |p − p_c|^(−1/2)),
      `"homoclinic"` (its period grows without bound at a saddle away from any fold:
      period ∝ −ln|p − p_c|),
      `"fold of cycles"` (the stable cycle is born with an unstable one at `edge`, and that
      branch leads to no equilibrium bifurcation in the interval: rest is never lost),
      `"period doubling"` or `"torus"` (the cycle loses stability there and goes on), or
      `"interval end"` (still stable where the diagram's interval ends), or
      `"unresolved"` when the cycle continuation stopped before reaching any of these (a
      `max_points` cap, a step collapse; `reason` says which): never guessed.
    - `parameter`: where the branch comes from (the Hopf point, fold of equilibria or
      homoclinic parameter); `edge` for the other kinds.
    - `criticality`: Hopf only.
    - `point`: the `BifurcationPoint` of the equilibria there (Hopf point, fold), or `None`.
    - `law`: a `PeriodLaw` fitted to the periods near an infinite-period end, or `None`.
    - `reason`: for `UNRESOLVED`, why the cycle continuation stopped; else `None`.
    """

    edge: float
    side: str
    kind: OnsetKind
    parameter: float
    criticality: str | None = None
    point: Any = None
    law: PeriodLaw | None = None
    reason: str | None = None

    def __post_init__(self):
        if not isinstance(self.kind, OnsetKind):
            object.__setattr__(self, "kind", OnsetKind(self.kind))

    @property
    def label(self) -> str:
        if self.kind == OnsetKind.HOPF and self.criticality:
            return f"{self.criticality} Hopf"
        if self.kind == OnsetKind.SNIC:
            return "saddle-node on invariant circle"
        if self.kind == OnsetKind.UNRESOLVED and self.reason:
            return f"unresolved ({self.reason})"
        return str(self.kind)

    def __repr__(self):
        where = f"{self.edge:.6g}"
        if self.parameter != self.edge:
            where += f" (branch from {self.parameter:.6g})"
        return f"Onset({self.side} edge at {where}: {self.label})"
