"""matplotlib helpers for the analysis results (matplotlib is imported when a plot is
drawn). This module imports no other analysis module: the result classes import it for
their `.plot()` methods, and `plot_bifurcation_diagram` takes any result that describes
itself through `_diagram()` (branches, points, cycles, parameter name)."""

from __future__ import annotations

import numpy as np

_STYLE = {
    "stable node": dict(marker="o", facecolor="k"),
    "stable focus": dict(marker="o", facecolor="k"),
    "unstable node": dict(marker="o", facecolor="w"),
    "unstable focus": dict(marker="o", facecolor="w"),
    "saddle": dict(marker="X", facecolor="0.5"),
    "non-hyperbolic": dict(marker="D", facecolor="0.5"),
}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def plot_phase_plane(pp, ax=None, *, arrows: bool = True, legend: bool = True):
    """Nullclines, normalised direction arrows, equilibria (filled: stable; open:
    unstable; ✕: saddle), trajectories and the limit cycle of a `PhasePlane`."""
    ax = _axes(ax)
    xn, yn = pp.variables
    if arrows:
        X, Y = np.meshgrid(pp.x, pp.y)
        # arrows show direction: scale each axis by its window so both count equally
        sx, sy = np.ptp(pp.x), np.ptp(pp.y)
        u, w = pp.dx / sx, pp.dy / sy
        norm = np.hypot(u, w)
        norm = np.where(norm > 0, norm, 1.0)
        ax.quiver(X, Y, u / norm * sx, w / norm * sy, color="0.75", angles="xy", pivot="mid")
    for k, line in enumerate(pp.x_nullcline):
        ax.plot(line[:, 0], line[:, 1], color="C0", lw=2, label=f"d{xn}/dt = 0" if k == 0 else None)
    for k, line in enumerate(pp.y_nullcline):
        ax.plot(line[:, 0], line[:, 1], color="C1", lw=2, label=f"d{yn}/dt = 0" if k == 0 else None)
    for k, tr in enumerate(pp.trajectories):
        tr = _break_at_resets(tr, np.ptp(pp.x), np.ptp(pp.y))
        ax.plot(tr[:, 0], tr[:, 1], color="C2", lw=1, label="trajectory" if k == 0 else None)
        ax.plot(tr[0, 0], tr[0, 1], ".", color="C2")
    if pp.limit_cycle is not None:
        ax.plot(
            pp.limit_cycle[:, 0],
            pp.limit_cycle[:, 1],
            color="k",
            lw=2.5,
            label=f"limit cycle (T = {pp.period:.3g} ms)",
        )
    names = list(pp.fixed_points[0].variables) if pp.fixed_points else []
    for fp in pp.fixed_points:
        st = _STYLE[fp.stability]
        ax.scatter(
            fp.x[names.index(xn)],
            fp.x[names.index(yn)],
            s=70,
            marker=st["marker"],
            facecolors=st["facecolor"],
            edgecolors="k",
            zorder=5,
            label=fp.stability,
        )
    ax.set_xlim(pp.x[0], pp.x[-1])
    ax.set_ylim(pp.y[0], pp.y[-1])
    units = getattr(pp, "units", None)
    ax.set_xlabel(_label(xn, units))
    ax.set_ylabel(_label(yn, units))
    slaved = f"; {', '.join(pp.slaved)} at steady state" if pp.slaved else ""
    unit = f" {units['current']}" if units and units.get("current") else ""
    ax.set_title(f"{pp.model}, I = {pp.current:g}{unit}{slaved}", fontsize="medium")
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize="small", loc="best")
    return ax


def _break_at_resets(path: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """NaN rows where the path jumps by more than half the window in one sample (an
    integrate-and-fire reset), so the reset is not drawn as a line across the plane."""
    step = np.abs(np.diff(path, axis=0))
    jump = (step[:, 0] > 0.5 * sx) | (step[:, 1] > 0.5 * sy)
    if not jump.any():
        return path
    return np.insert(path, np.flatnonzero(jump) + 1, np.nan, axis=0)


def _runs(mask: np.ndarray):
    """Index ranges `[i, j]` (inclusive, overlapping by one point) of constant `mask`."""
    out, i = [], 0
    while i < len(mask) - 1:
        j = i
        while j + 1 < len(mask) and mask[j + 1] == mask[i]:
            j += 1
        out.append((i, min(j + 1, len(mask) - 1), bool(mask[i])))
        i = j + 1
    return out


def _label(name: str, units, symbol: str | None = None) -> str:
    """`"I (µA/cm²)"`: the axis label of `name` with its unit from the result's `units`
    (`"(model units)"` when the result does not carry them)."""
    shown = symbol or {"current": "I", "v": "V"}.get(name, name)
    if not units or name not in units:
        return f"{shown} (model units)"
    return f"{shown} ({units[name] or 'dimensionless'})"


def _plot_branch(ax, branch, variable, color, labelled: set):
    y = branch.v if variable is None else branch[variable]
    p = branch.parameter
    for i, j, stable in _runs(branch.stable):
        label = "stable equilibria" if stable else "unstable equilibria"
        ax.plot(
            p[i : j + 1],
            y[i : j + 1],
            color=color,
            ls="-" if stable else "--",
            lw=2 if stable else 1.2,
            label=None if label in labelled else label,
        )
        labelled.add(label)


_MARKERS = {
    "fold": ("s", "F"),
    "hopf": ("*", "H"),
    "branch point": ("D", "BP"),
    "fold of cycles": ("o", "LPC"),
    "period doubling": ("v", "PD"),
    "torus": ("P", "NS"),
    "snic": ("X", "SNIC"),
    "homoclinic": ("X", "HC"),
}


def _point_y(pt, variable):
    if variable is None:
        return pt.v
    return float(getattr(pt.state, variable))


_MEANING = {
    "fold": "F: fold of equilibria (saddle-node)",
    "hopf": "H: Hopf (H⁺ subcritical, H⁻ supercritical)",
    "branch point": "BP: branch point of equilibria",
    "fold of cycles": "LPC: fold of cycles (limit point of cycles), on min and max",
    "period doubling": "PD: period doubling, on min and max",
    "torus": "NS: torus (Neimark–Sacker), on min and max",
    "snic": "SNIC: saddle-node on invariant circle",
    "homoclinic": "HC: homoclinic orbit",
}


def _cycle_min(pt, cycles, j):
    """The minimum of variable `j` over the cycle at the bifurcation of cycles `pt`: from
    the continued cycle nearest to it (in parameter and peak) on the branches `cycles`."""
    best, dist = None, np.inf
    for b in cycles or ():
        if not hasattr(b, "minimum"):
            continue
        scale = 1.0 + np.abs(b.maximum[:, j]).max()
        d = np.abs(b.parameter - pt.parameter) + np.abs(b.state[:, j] - pt.state_row(j)) / scale
        i = int(np.argmin(d))
        if d[i] < dist:
            best, dist = float(b.minimum[i, j]), d[i]
    return best


def _plot_points(ax, points, variable, variables, labelled: set, cycles=None):
    for pt in points:
        y = _point_y(pt, variable)
        marker, tag = _MARKERS.get(pt.kind, ("o", str(pt.kind)))
        cycle = pt.kind in ("fold of cycles", "period doubling", "torus")
        meaning = _MEANING.get(pt.kind, str(pt.kind))
        ys = [y]
        if cycle and hasattr(pt, "state_row"):
            j = list(variables).index(variable or "v") if variables else 0
            low = _cycle_min(pt, cycles, j)
            if low is not None:
                ys.append(low)  # the same fold on the lower envelope
        for k, yy in enumerate(ys):
            ax.plot(
                pt.parameter,
                yy,
                marker,
                color="C3",
                mfc="w" if cycle else "C3",
                ms=10 if pt.kind == "hopf" else 7,
                zorder=5,
                ls="none",
                label=None if (meaning in labelled or k) else meaning,
            )
            labelled.add(meaning)
        if pt.kind == "hopf" and getattr(pt, "criticality", None):
            tag += "⁻" if pt.criticality == "supercritical" else "⁺"
        ax.annotate(tag, (pt.parameter, y), textcoords="offset points", xytext=(5, 5))


def _plot_sweeps(ax, cycles):
    # the down sweep as open circles under the up sweep's dots: where both found the
    # cycle the dot sits in the circle; a circle alone marks the hysteresis band
    for sweep, face, size in ((cycles.down, "w", 36), (cycles.up, "k", 9)):
        if sweep is None or not sweep.oscillating.any():
            continue
        on = sweep.oscillating
        for arr in (sweep.v_max, sweep.v_min):
            ax.scatter(
                sweep.parameter[on],
                arr[on],
                s=size,
                facecolors=face,
                edgecolors="k",
                linewidths=0.8,
                zorder=4,
                label=f"cycle min/max, {sweep.direction} sweep" if arr is sweep.v_max else None,
            )


def _plot_cycle_branches(ax, branches, variable, labelled: set):
    """Continued cycles: min and max of the variable over each cycle, stable solid,
    unstable dashed."""
    for b in branches:
        j = b.v_index if variable is None else b.variables.index(variable)
        p = b.parameter
        for i0, i1, stable in _runs(np.asarray(b.stable)) or [(0, len(p) - 1, bool(b.stable[0]))]:
            label = "stable cycles (min/max)" if stable else "unstable cycles (min/max)"
            for arr in (b.minimum[:, j], b.maximum[:, j]):
                ax.plot(
                    p[i0 : i1 + 1],
                    arr[i0 : i1 + 1],
                    color="C3" if stable else "C1",
                    ls="-" if stable else "--",
                    lw=1.8 if stable else 1.2,
                    label=None if label in labelled else label,
                )
                labelled.add(label)


def _plot_onsets(ax, onsets, variable, labelled: set):
    for o in onsets:
        if o.kind not in ("snic", "homoclinic") or o.point is None:
            continue
        y = _point_y(o.point, variable)
        marker, tag = _MARKERS[o.kind]
        meaning = _MEANING[o.kind]
        label = None if meaning in labelled else meaning
        labelled.add(meaning)
        ax.plot(o.parameter, y, marker, color="C2", ms=8, zorder=6, ls="none", label=label)
        ax.annotate(tag, (o.parameter, y), textcoords="offset points", xytext=(5, -12))


def plot_bifurcation_diagram(result, ax=None, *, variable: str | None = None):
    """Equilibrium branches (solid: stable, dashed: unstable), folds (■, F), Hopf points
    (★, H⁺ subcritical / H⁻ supercritical) and branch points (◆, BP); continued limit
    cycles' min and max of the variable (red solid: stable, orange dashed: unstable) with
    their folds (○, LPC), period doublings (▽, PD) and tori (✚, NS), each marked on both
    envelopes (the cycle's min and max); infinite-period onsets
    (✕, SNIC or HC for homoclinic); or the simulated sweeps of `limit_cycles` (● up sweep,
    ○ down sweep: a circle without a dot marks where only the down sweep fires). Axes are
    labelled with the model's units; the legend explains every line and marker.

    `result`: a `BifurcationDiagram`, a `Branch` or `LimitCycles`; `variable`: what to plot
    against the parameter (default V)."""
    parts = getattr(result, "_diagram", None)
    if parts is None:
        raise TypeError(
            "plot_bifurcation_diagram needs a BifurcationDiagram, Branch or LimitCycles, "
            f"got {type(result).__name__}."
        )
    ax = _axes(ax)
    branches, points, cycles, name = parts()
    units = getattr(result, "units", None)
    labelled: set = set()
    for k, b in enumerate(branches):
        _plot_branch(ax, b, variable, f"C{k % 10}" if k != 3 else "C9", labelled)
    variables = branches[0].variables if branches else ()
    if cycles is not None:
        if hasattr(cycles, "up"):
            if variable in (None, "v"):
                _plot_sweeps(ax, cycles)
        else:
            _plot_cycle_branches(ax, cycles, variable, labelled)
    cycle_branches = None if cycles is None or hasattr(cycles, "up") else cycles
    _plot_points(ax, points, variable, variables, labelled, cycle_branches)
    _plot_onsets(ax, getattr(result, "onsets", ()), variable, labelled)
    ax.set_xlabel(_label(name, units))
    ax.set_ylabel(_label(variable or "v", units))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small", loc="best")
    return ax


def plot_fi_curve(fi, ax=None, *, label: str | None = None, analytic=None, **kwargs):
    """Firing rate (Hz) against current; `analytic`: optional rates on the same currents
    (e.g. `lif_rate(model, fi.current)`) drawn as a line for comparison."""
    ax = _axes(ax)
    ax.plot(fi.current, fi.rate, "o", ms=4, label=label or "simulated", **kwargs)
    if analytic is not None:
        ax.plot(fi.current, analytic, "-", color="k", lw=1, label="analytic")
    ax.set_xlabel(_label("current", getattr(fi, "units", None)))
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize="small", loc="best")
    return ax
