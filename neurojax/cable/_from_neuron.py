"""A cell built in NEURON, as a neurojax `Cell` (`from_neuron`).

People come with published cells: a hoc or Python script that builds sections, sets
`nseg`, geometry, `Ra`, `cm`, inserts mechanisms from `.mod` files and sets their
parameters per segment. `from_neuron` reads that model from a running NEURON (the
`neuron` package, imported only here) and builds the same cell in neurojax: the same
sections (branches, in breadth-first order from the root), segments, 3-d points or
cylinders, axial resistivity and capacitance, the density mechanisms imported from the
same `.mod` files (`neurojax.nmodl`) with every parameter's value per segment, the ions'
reversal potentials and concentrations, `celsius`, `v_init`, `IClamp`s as current
clamps, other point processes with the events of the `NetStim`s that drive them. What it
cannot carry over it refuses, naming the section and what to do.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..channels import AbstractPointProcess, Passive
from ._cell import Cell
from ._morphology import Branch, Morphology

# NEURON's built-in point processes that pass no current: skipped, with a warning
_RECORDING_ONLY = frozenset({"APCount"})

# NEURON's built-in AlphaSynapse (its .mod does not ship in the wheel), written here from
# its equations: g = gmax·x·e^(1−x) for x = (t − onset)/τ in [0, 10], else 0; i = g·(v − e)
_ALPHA_SYNAPSE_MOD = """
NEURON { POINT_PROCESS AlphaSynapse RANGE onset, tau, gmax, e, i, g NONSPECIFIC_CURRENT i }
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { onset = 0 (ms) tau = 0.1 (ms) <1e-3, 1e6> gmax = 0 (uS) <0, 1e9> e = 0 (mV) }
ASSIGNED { v (mV) i (nA) g (uS) }
BREAKPOINT { g = gmax * alpha((t - onset) / tau)  i = g * (v - e) }
FUNCTION alpha(x) {
    if (x < 0 || x > 10) { alpha = 0 } else { alpha = x * exp(1 - x) }
}
"""


class NeuronCell(NamedTuple):
    """What `from_neuron` returns.

    - `cell`: the `Cell`.
    - `branches`: NEURON section name → its branch indices: one, or one per segment for a
      section whose cm (or, without 3-d points, diameter) differs between segments. Use
      `site(name, x)` for where NEURON's `sec(x)` is.
    - `iclamps`: one `(delay ms, dur ms, amp nA)` per current clamp, in `cell`'s clamp
      order (the NEURON `IClamp`s, each at its segment's centre).
    - `flipped`: the sections NEURON attaches by their 1 end (`child.connect(parent(x),
      1)`), imported reversed (their 1 end is the branch's 0 end): `site` maps their x.
    - `netstims`: for each point process taking events (`cell`'s receivers, in order),
      the `NetStim`s driving it through `NetCon`s: `(start ms, interval ms, number,
      delay ms, weight)` each; a spike of a source in `from_neuron`'s `spike_times` (a
      VecStim's) is one such with `start` its time and `number` 1.
    """

    cell: Cell
    branches: dict
    iclamps: tuple
    netstims: tuple = ()
    flipped: frozenset = frozenset()

    def site(self, section: str, x: float) -> tuple[int, float]:
        """`(branch, x)` of NEURON's `section(x)`, for `cell.node`, `record_v`, clamps.
        `section`: its name, or the NEURON section itself."""
        if not isinstance(section, str) and callable(getattr(section, "name", None)):
            section = section.name()  # h.Section: was "no section dend" for section dend
        if section not in self.branches:
            raise ValueError(
                f"no section {section!r}; the sections are {sorted(self.branches)[:8]}..."
            )
        if _not_real(x):  # "0.3" and None failed in numpy's isfinite
            raise TypeError(f"x must be a number in [0, 1] (NEURON's sec(x)), got {x!r}.")
        if isinstance(x, bool) or not (np.isfinite(x) and 0.0 <= x <= 1.0):
            raise ValueError(f"x must lie in [0, 1], got {x!r}.")
        parts = self.branches[section]
        if section in self.flipped:
            x = _flip_x(float(x), sum(self.cell.morphology.branches[p].nseg for p in parts))
        return _site(parts, float(x))

    def inputs(self, n_steps: int, dt: float):
        """`simulate`'s input for `n_steps` of `dt` ms: the `IClamp`s, `(n_steps,
        n_clamps)` nA, each clamp's amplitude at the mid-step times `(k + ½)·dt` where
        NEURON's fixed step evaluates the currents (`IClamp` is on for `delay ≤ t < delay
        + dur`); with point processes taking events, a dict `{"i_clamp": ..., "events":
        ...}`, the NetStims' spikes (noise 0: at `start + k·interval`, `k < number`, plus
        the NetCon's delay) delivered by `Cell.event_input` (NEURON's rule)."""
        if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps must be a whole number ≥ 1, got {n_steps!r}.")
        if _not_real(dt):  # "0.025" failed in numpy's isfinite
            raise TypeError(f"dt must be a number of ms, got {dt!r}.")
        if isinstance(dt, bool) or not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a finite number of ms > 0, got {dt!r}.")
        n_steps, dt = int(n_steps), float(dt)
        t = (np.arange(n_steps) + 0.5) * dt
        cols = [np.where((t >= d) & (t < d + w), a, 0.0) for d, w, a in self.iclamps]
        clamps = np.stack(cols, axis=1) if cols else np.zeros((n_steps, 0))
        if not len(self.cell.geometry.receivers):
            return clamps
        spikes = []
        t_end = n_steps * dt
        for stims in self.netstims:
            times, weights = [], []
            for start, interval, number, delay, weight in stims:
                if start < 0 or number <= 0:
                    continue
                interval = interval if interval > 0 else 0.01  # NetStim's own rule
                n = int(min(np.ceil(number), np.floor((t_end - start) / interval) + 2))
                if n > 10**7:
                    raise ValueError(
                        f"a NetStim (start {start} ms, interval {interval} ms) would deliver "
                        f"{n} events in {t_end} ms; give it a realistic interval."
                    )
                ts = start + interval * np.arange(max(n, 0)) + delay
                times.append(ts)
                weights.append(np.full(ts.shape, weight))
            spikes.append((np.concatenate(times) if times else np.zeros(0),
                           np.concatenate(weights) if weights else np.zeros(0)))  # fmt: skip
        return {"i_clamp": clamps, "events": self.cell.event_input(spikes, n_steps, dt)}


def _clip(pts: np.ndarray, arc: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The 3-d points `(n, 4)` of the polyline between arc lengths `lo` and `hi` (µm):
    the points strictly inside, and points interpolated linearly in arc length at both
    ends (at a step in diameter — two points at one arc length — the start takes the
    last of them, the end the first)."""

    def at(x, side):
        j = int(np.searchsorted(arc, x, side=side))
        if side == "right":  # arc[j - 1] <= x < arc[j]
            j0, j1 = j - 1, min(j, len(arc) - 1)
            if arc[j0] == x or j0 == j1:
                return pts[j0]
        else:  # arc[j - 1] < x <= arc[j]
            j0, j1 = max(j - 1, 0), min(j, len(arc) - 1)
            if arc[j1] == x or j0 == j1:
                return pts[j1]
        f = (x - arc[j0]) / (arc[j1] - arc[j0])
        return pts[j0] + f * (pts[j1] - pts[j0])

    inside = pts[(arc > lo) & (arc < hi)]
    return np.vstack([at(lo, "right"), inside, at(hi, "left")])


def _points_on_arc(h, s, n3d: int) -> np.ndarray:
    """A section's 3-d points `(n, 4)` as NEURON uses them: its arc lengths (`arc3d`,
    double precision, rescaled when `L` is set after the points) with the directions
    of its single-precision coordinates. NEURON computes areas and resistances from
    `arc3d` and `diam3d`, not from the coordinates, which can disagree with the arcs by
    ~1e-6 relative after a rescale (spines folded into `L`)."""
    pts = np.array(
        [[h.x3d(k, sec=s), h.y3d(k, sec=s), h.z3d(k, sec=s), h.diam3d(k, sec=s)]
         for k in range(n3d)]
    )  # fmt: skip
    arc = np.array([h.arc3d(k, sec=s) for k in range(n3d)])
    step = np.diff(pts[:, :3], axis=0)
    norm = np.linalg.norm(step, axis=1)
    darc = np.diff(arc)
    unit = np.zeros_like(step)
    ok = norm > 0
    unit[ok] = step[ok] / norm[ok, None]
    unit[~ok & (darc > 0)] = (1.0, 0.0, 0.0)  # coincident coordinates, distinct arcs
    out = pts.copy()
    out[1:, :3] = pts[0, :3] + np.cumsum(unit * darc[:, None], axis=0)
    return out


def _base_name(name: str) -> str:
    """`"Cell[0].dend[3]"` → `"dend"`, `"MossyCell[0].dendrites[0][3]"` → `"dendrites"`
    (a 2-d section array): the branch type."""
    name = name.rsplit(".", 1)[-1]
    return re.sub(r"(\[\d+\])+$", "", name) or "dend"


def _site(parts: tuple[int, ...], x: float) -> tuple[int, float]:
    """`(branch, x)` of a section's `x`, the section being the branches `parts`: itself,
    or one branch per segment (then NEURON's node for 0 < x < 1 is the centre of the
    segment holding x)."""
    if len(parts) == 1:
        return parts[0], x
    if x <= 0.0:
        return parts[0], 0.0
    if x >= 1.0:
        return parts[-1], 1.0
    return parts[min(int(x * len(parts)), len(parts) - 1)], 0.5


def _flip_x(x: float, nseg: int) -> float:
    """Where NEURON's `sec(x)` is on the reversed branch of a section attached by its 1
    end: an end maps to the other end; an inner x to the centre of the segment NEURON
    gives it — `int(x·nseg)` in the section's own x, a tie at a segment boundary going to
    the segment above it (`sec(0.2).node_index()` with nseg 5 is the node of 0.3) —
    counted from the other end."""
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    k = min(int(x * nseg), nseg - 1)
    return 1.0 - (k + 0.5) / nseg


def _mod_files(mods) -> dict[str, Path]:
    """SUFFIX / POINT_PROCESS name → `.mod` path, from files and directories."""
    if mods is None:
        mods = ()
    if isinstance(mods, (str, os.PathLike)):
        mods = [mods]
    if not isinstance(mods, (list, tuple)) or not all(
        isinstance(m, (str, os.PathLike)) for m in mods
    ):
        raise TypeError(f"mods must be a .mod file, a directory, or a list of them, got {mods!r}.")
    files = []
    for m in mods:
        p = Path(m)
        if p.is_dir():
            files.extend(sorted(p.glob("*.mod")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(
                f"mods: {os.fspath(p)!r} is neither a .mod file nor a directory."
            )
    found: dict[str, Path] = {}
    pattern = re.compile(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)")
    for f in files:
        text = re.sub(r"(?s)COMMENT.*?ENDCOMMENT", "", f.read_text(errors="replace"))
        text = re.sub(r"[:?][^\n]*", "", text)
        m = pattern.search(text)
        if m:
            found.setdefault(m.group(1), f)
    return found


def _neuron_builtin_mods() -> dict[str, Path]:
    """NEURON's own `.mod` files (`hh`, `pas`, `ExpSyn`, `Exp2Syn`, `SEClamp`, …) by
    name, from the installed `neuron` package where it ships them."""
    import importlib.util

    spec = importlib.util.find_spec("neuron")
    if spec is None or spec.origin is None:
        return {}
    share = Path(spec.origin).parent / ".data" / "share"
    dirs = [d for d in (share / "modfile", share / "nrn" / "demo" / "release") if d.is_dir()]
    return _mod_files(dirs)


def _not_real(x) -> bool:
    """Whether `x` is not one real number (a string, None, complex, an array)."""
    return (
        x is None
        or isinstance(x, (str, bytes))
        or np.ndim(x) != 0
        or np.asarray(x).dtype.kind not in "biuf"
    )


def _one_value(values, what: str, sec: str):
    values = np.asarray(values, dtype=float)
    if not np.all(values == values[0]):
        raise ValueError(
            f"section {sec}: {what} differs between its segments ({values.tolist()}); "
            "neurojax takes one value per section for it. Set it per section in NEURON, "
            "or split the section."
        )
    return float(values[0])


def _hoc_value(h, name: str, default=None):
    """A hoc variable's value, `default` where hoc does not define it (`v_init` before
    `stdrun.hoc` is loaded: NEURON's default −65 mV)."""
    try:
        return float(getattr(h, name))
    except (AttributeError, LookupError):
        return default


def from_neuron(
    sections=None,
    *,
    mods=None,
    v_init=None,
    h=None,
    neuron_slope: bool = False,
    spike_times=None,
) -> NeuronCell:
    """The cell NEURON holds now, as a neurojax `Cell` (a `NeuronCell`).

    - `sections`: the sections of one cell (e.g. `cell.all` of a template, a list);
      default every section NEURON has (`h.allsec()`), which must form one tree.
    - `mods`: the `.mod` files of the mechanisms the cell uses — paths and directories
      (all `*.mod` in them); matched by their `SUFFIX`/`POINT_PROCESS` names. NEURON's
      built-ins (`pas`, `hh`) are read from the installed `neuron` package.
    - `v_init`: the initial voltage, mV (default NEURON's `h.v_init`, which
      `run()`/`stdinit()` use; pass the value if your script calls `finitialize(v)`
      with another).
    - `h`: NEURON's `h` (default `neuron.h`).
    - `neuron_slope`: give every mechanism imported from a `.mod` file NEURON's membrane
      slope, `(i(v + 0.001) − i(v))/0.001`, instead of the exact dI/dV
      (`neurojax.nmodl._compile.with_neuron_slope`): for step-for-step comparisons with
      NEURON when a current is nonlinear in v (GHK, a Mg²⁺ block), which otherwise
      differ by the slope rule alone (RTCl's GHK T current: 4.5e-3 mV over 150 ms with
      spikes). It cuts those currents' gradients with respect to their parameters: not
      for fitting.

    Carried over: the tree (each section a `Branch`, root first, attached where NEURON
    connects it), `nseg`, the 3-d points (`pt3d`) or `L`/`diam`, `Ra`, `cm` (one per
    section), every density mechanism with each of its `PARAMETER`s as NEURON holds it —
    one value per segment where they differ (`RANGE`), the global value otherwise — and
    each ASSIGNED RANGE/GLOBAL variable no statement of its file assigns (a value only
    hoc sets, e.g. `CAF_cadyn = 600e-9`; point processes' too), the
    ions' reversal potentials and concentrations per section (both concentrations of
    an ion a mechanism writes start at NEURON's `<ion>i0_<ion>_ion`/`<ion>o0_<ion>_ion`,
    which `finitialize` uses), `celsius`, `v_init`. 3-d points are taken with NEURON's
    arc lengths (`arc3d`), from which it computes areas and resistances.
    Rates are exact: NEURON's `TABLE`s are not used (compare with `usetable_<suffix> =
    0`).

    A section whose `cm` differs between its segments, or (without 3-d points) whose
    diameter does, becomes one branch per segment (NEURON's discretisation of it
    exactly; 3-d points clipped at the segments' ends): `site(name, x)` finds `sec(x)`
    on either kind.

    Point processes: `IClamp`s become current clamps; any other (`ExpSyn`, `Exp2Syn`,
    `SEClamp`, `AlphaSynapse`, one from `mods`) is placed at its segment with its
    parameters, and the `NetCon`s from `NetStim`s (noise 0) and from the sources in
    `spike_times` (VecStims) onto it become its events (`NeuronCell.inputs`).
    `APCount`s pass no current: skipped, with a warning. A point process's `POINTER`
    that NEURON's `setpointer` set to the voltage of a segment of the given sections (a
    pointer-driven synapse reading its own cell, a gap junction within it) is bound to
    that node (`bind_pointer(name, v_at=...)`); one set to anything else (another cell's
    voltage, a hoc variable), or unset and read, is refused, naming the object.

    A section attached by its 1 end (`child.connect(parent(x), 1)`) is imported reversed:
    its 1 end is its branch's 0 end, and NEURON's `sec(x)` is the node of the segment
    NEURON gives x, counted from the other end (`site` maps it; `NeuronCell.flipped`
    lists such sections; per-segment values reversed; NEURON lays its 3-d points from
    the attached end already).

    Refused (`ValueError` naming the section or object): several trees, a section
    attached to the given ones but left out of them (a template's myelin outside its
    `all`: NEURON simulates it; pass it too), ion values
    differing within a section, an `ion_style` other than NEURON's default rule (which
    `Cell` follows), a mechanism or point process without a `.mod` file, the
    `extracellular` mechanism, a `NetCon` from a presynaptic voltage or driven by
    `NetCon.event` (give the spike times to `Cell.event_input`), a NetStim with noise or
    another artificial cell (a `VecStim`) whose times are not in `spike_times`, a section
    with `rallbranch` other than 1, a NetStim that is itself the target of a `NetCon`.
    An inactive `NetCon` (`nc.active(False)`) delivers nothing, as in NEURON.

    Not seen (NEURON does not expose it): a `Vector.play` into a parameter (an `IClamp`'s
    `amp`, a `SEClamp`'s `amp1`): its value at import is taken as constant. Pass the
    played waveform as the clamp's column of the inputs yourself. Nor what an
    `FInitializeHandler` does at `finitialize` (the import starts at `v_init` and each
    mechanism's INITIAL: give `state0=` to `simulate`).
    """
    if h is None:
        from neuron import h  # noqa: PLC0415  (NEURON is needed only here)
    elif not (hasattr(h, "allsec") and hasattr(h, "section_orientation")):
        # was "'int' object has no attribute 'section_orientation'"
        raise TypeError(f"from_neuron: h must be NEURON's h (from neuron import h), got {h!r}.")
    if not isinstance(neuron_slope, bool):
        raise TypeError(f"from_neuron: neuron_slope must be True or False, got {neuron_slope!r}.")
    given_times = _spike_times(spike_times)
    if isinstance(sections, (str, bytes)):
        raise TypeError(
            f"from_neuron: sections must be NEURON sections (e.g. cell.all, or [h.soma]), not "
            f"a name ({sections!r})."
        )
    secs = list(h.allsec()) if sections is None else list(sections)
    for sec in secs:
        if not (hasattr(sec, "psection") and hasattr(sec, "nseg")):
            raise TypeError(
                f"from_neuron: sections must be NEURON sections (e.g. cell.all, or a list of "
                f"h.Section), got {sec!r}."
            )
    if not secs:
        raise ValueError("from_neuron: no sections (NEURON holds none, or sections is empty).")
    unique: dict = {}  # a section passed twice ([*cell.all, *cell.somatic]) counts once
    for sec in secs:
        other = unique.setdefault(sec.name(), sec)
        if other != sec:
            raise ValueError(
                f"from_neuron: two different sections are named {sec.name()!r}; give them "
                "distinct names (h.Section(name=...))."
            )
    secs = list(unique.values())
    index_of = {s.name(): i for i, s in enumerate(secs)}
    roots = [s for s in secs if s.parentseg() is None or s.parentseg().sec.name() not in index_of]
    if len(roots) != 1:
        alone = [r.name() for r in roots if r.parentseg() is None and not len(r.children())]
        hint = (
            f" {alone[:3]} connected to nothing: a template's placeholder (`create apic[1]` "
            "that Import3d found no apical dendrite for, in a template without `forall "
            "delete_section()`)? Leave such sections out."
            if alone and len(alone) < len(roots)
            else ""
        )
        raise ValueError(
            f"from_neuron: the sections form {len(roots)} trees (roots "
            f"{[r.name() for r in roots][:5]}); pass the sections of one cell, e.g. "
            f"from_neuron(cell.all).{hint}"
        )
    for s in secs:  # NEURON simulates what is connected: leaving a part out is refused
        pseg = s.parentseg()
        if pseg is not None and pseg.sec.name() not in index_of:
            raise ValueError(
                f"from_neuron: section {s.name()} is attached to {pseg.sec.name()}, which is not "
                "among the sections; pass every section of the cell (e.g. list(h.allsec()) or "
                "add it to the list)."
            )
        missing = [c.name() for c in s.children() if c.name() not in index_of]
        if missing:
            raise ValueError(
                f"from_neuron: section {missing[0]} is attached to {s.name()} but is not among "
                f"the sections ({len(missing)} such children of it): NEURON simulates it with "
                "the cell. Pass it too (e.g. [*cell.all, cell.myelin[0]], or "
                "list(h.allsec()))."
            )
    order = [roots[0]]
    for s in order:  # breadth-first: a parent before its children
        order.extend(c for c in s.children() if c.name() in index_of)
    if len(order) != len(secs):
        raise ValueError("from_neuron: some sections are not connected to the root's tree.")
    files = _neuron_builtin_mods() | _mod_files(mods)  # the user's files first
    info = [s.psection() for s in order]

    # One branch per section; a section without 3-d points whose diameter or cm differs
    # between its segments becomes one branch per segment, chained: NEURON's own
    # discretisation of it (cylinders of L/nseg, the axial resistance between two
    # centres the two half segments' in series — here through a membrane-less node).
    parts: dict[str, tuple[int, ...]] = {}
    branches: list[Branch] = []
    # a section attached by its 1 end is imported reversed: NEURON's x is 1 − x on it
    flipped = frozenset(
        s.name() for s in order[1:] if h.section_orientation(sec=s) != 0
    )  # fmt: skip

    nseg_of = {s.name(): int(s.nseg) for s in order}

    def site_of(sec_name: str, x: float) -> tuple[int, float]:
        if sec_name in flipped:
            x = _flip_x(x, nseg_of[sec_name])
        return _site(parts[sec_name], x)

    for s, ps in zip(order, info, strict=True):
        name = s.name()
        if "extracellular" in ps["density_mechs"]:
            raise ValueError(f"section {name}: the extracellular mechanism is not supported.")
        if float(s.rallbranch) != 1.0:
            # was ignored: rallbranch = 2 on a dendrite moved the soma's V by 1.3 mV from
            # NEURON's in a 10 ms clamp, without a word
            raise ValueError(
                f"section {name}: rallbranch = {float(s.rallbranch):g} (NEURON's identical "
                "parallel branches) is not carried over. Create the branches as sections of "
                "their own, or set rallbranch = 1."
            )
        parent, px = -1, 1.0
        if branches:
            pseg = s.parentseg()
            parent, px = site_of(pseg.sec.name(), float(pseg.x))
        n3d, nseg, kind = int(h.n3d(sec=s)), int(s.nseg), _base_name(name)
        diam = np.asarray(ps["morphology"]["diam"], dtype=float)
        cm = np.asarray(ps["cm"], dtype=float)
        if name in flipped:  # per segment from the attached (1) end
            diam, cm = diam[::-1], cm[::-1]
        if n3d >= 2:
            # (on a section attached by its 1 end NEURON lays the 3-d points from that
            # end: point 0 is at x = 1, which is the branch's start here too)
            pts = _points_on_arc(h, s, n3d)
            if not np.isclose(h.arc3d(n3d - 1, sec=s), s.L, rtol=1e-9, atol=1e-9):
                raise ValueError(
                    f"section {name}: L = {s.L} µm but its 3-d points span "
                    f"{h.arc3d(n3d - 1, sec=s)} µm (NEURON has not yet rescaled them to a new "
                    "L); call h.define_shape() first."
                )
            br = Branch(float(s.L), float(np.mean(pts[:, 3])), parent, px, nseg, kind, pts)
            if nseg > 1 and not np.all(cm == cm[0]):  # one branch per segment, clipped
                first, arc = len(branches), br.arc
                for k in range(nseg):
                    piece = _clip(pts, arc, k * arc[-1] / nseg, (k + 1) * arc[-1] / nseg)
                    branches.append(Branch(arc[-1] / nseg, float(np.mean(piece[:, 3])),
                                           parent, px, 1, kind, piece))  # fmt: skip
                    parent, px = first + k, 1.0
                parts[name] = tuple(range(first, first + nseg))
            else:
                parts[name] = (len(branches),)
                branches.append(br)
        elif nseg > 1 and not (np.all(diam == diam[0]) and np.all(cm == cm[0])):
            first = len(branches)
            for k in range(nseg):
                branches.append(Branch(float(s.L) / nseg, float(diam[k]), parent, px, 1, kind))
                parent, px = first + k, 1.0
            parts[name] = tuple(range(first, first + nseg))
        else:
            parts[name] = (len(branches),)
            branches.append(Branch(float(s.L), float(diam[0]), parent, px, nseg, kind))
    morph = Morphology(branches)
    disc = morph.discretise()

    def region(branch_ids):
        return disc.membrane[np.isin(disc.branch[disc.membrane], branch_ids)]

    # node → (section number, segment) of each membrane node, for per-segment values
    seg_of = {}
    for j, s in enumerate(order):
        for k in range(int(s.nseg)):
            b, x = site_of(s.name(), (k + 0.5) / s.nseg)
            seg_of[int(disc.node(b, x))] = (j, k)

    from ..nmodl import mod_class
    from ..nmodl._compile import with_neuron_slope

    mechanisms = []
    sec_uses = [[] for _ in order]  # the IonUses of each section's mechanisms
    classes = {}
    for suffix in sorted({m for ps in info for m in ps["density_mechs"]}):
        where = [b for b, ps in enumerate(info) if suffix in ps["density_mechs"]]
        path = files.get(suffix)
        if path is None and suffix == "pas":
            classes[suffix] = None
        elif path is None:
            raise ValueError(
                f"mechanism {suffix!r} (in sections {[order[b].name() for b in where][:4]}) "
                "has no .mod file: pass it, or its directory, as from_neuron(..., mods=...)."
            )
        else:
            # (hoc_set=True: an ASSIGNED RANGE/GLOBAL no statement assigns, which only
            # hoc sets, e.g. Durstewitz's `CAF_cadyn = 600e-9`, is read as a parameter)
            classes[suffix] = mod_class(path, hoc_set=True)
            if issubclass(classes[suffix], AbstractPointProcess):
                raise ValueError(f"{path.name} is a point process, but {suffix!r} is inserted.")
    # NEURON's order (memb_order_): its INITIAL blocks and state updates run in it, and a
    # concentration written by one mechanism is read by those after it
    for suffix in _memb_order(h, classes):
        cls = classes[suffix]
        where = [b for b, ps in enumerate(info) if suffix in ps["density_mechs"]]
        where_branches = [i for j in where for i in parts[order[j].name()]]
        nodes = region(where_branches)  # branch indices: a section may be several
        params = {}
        if cls is None:  # NEURON's pas without its .mod: neurojax's Passive, mS/cm²
            fields = {"g": ("g", 1e3), "e": ("e", 1.0)}
        else:
            fields = {nm: (f, 1.0) for nm, f in cls._spec.field_of.items()}
        for nmodl_name, (field, scale) in fields.items():
            per_seg = [info[b]["density_mechs"][suffix].get(nmodl_name) for b in where]
            if all(v is not None for v in per_seg):  # RANGE: per segment
                value = {}
                for b, vals in zip(where, per_seg, strict=True):
                    for k, x in enumerate(vals):
                        value[(b, k)] = float(x) * scale
                arr = np.array([value[seg_of[int(n)]] for n in nodes])
                params[field] = float(arr[0]) if np.all(arr == arr[0]) else arr
            else:  # GLOBAL: one value
                g = _hoc_value(h, f"{nmodl_name}_{suffix}")
                if g is not None:
                    params[field] = g * scale
        mech = Passive(**params) if cls is None else cls(**params)
        if neuron_slope and cls is not None:
            mech = with_neuron_slope(mech)
        mechanisms.append((mech, where_branches))
        for j in where:
            sec_uses[j].extend(getattr(mech, "ion_use", ()))

    # ions: per section, the values NEURON holds; written concentrations start at the
    # globals finitialize uses
    uses = [use for mech, _ in mechanisms for use in getattr(mech, "ion_use", ())]
    # NEURON's rule (as `Cell`'s): e<ion> is Nernst's where a mechanism uses a
    # concentration of the ion; the cell computes it then, from the concentrations
    nernst = {
        use.ion for use in uses
        if {f"{use.ion}i", f"{use.ion}o"} & (set(use.read) | set(use.write))
    }  # fmt: skip
    # …except where a mechanism WRITEs e<ion> (Santhakumar's ccanl.mod): there NEURON
    # neither initialises nor advances it by Nernst; it starts at the section's value
    e_written = {use.ion for use in uses if f"e{use.ion}" in use.write}

    def per_branch(values):  # one value per section → per branch; a scalar if all equal
        out = [v for v, s in zip(values, order, strict=True) for _ in parts[s.name()]]
        return out[0] if all(v == out[0] for v in out) else np.array(out)

    fixed, from_globals = _ion_styles(h, order, info, sec_uses)
    ions, ion_of = {}, {}
    all_ions = sorted({ion for ps in info for ion in ps["ions"]})
    for ion in all_ions:
        for var in (f"e{ion}", f"{ion}i", f"{ion}o"):
            per_sec = []
            for ps, s in zip(info, order, strict=True):
                vals = ps["ions"].get(ion, {}).get(var)
                per_sec.append(None if vals is None else _one_value(vals, var, s.name()))
            known = [v for v in per_sec if v is not None]
            if not known or (var == f"e{ion}" and ion in nernst and ion not in fixed
                             and ion not in e_written):  # fmt: skip
                continue
            # NEURON's finitialize sets both concentrations of an ion from the globals
            # <ion>i0_<ion>_ion, <ion>o0_<ion>_ion (cinit = 1, the default when a mechanism
            # writes either of them)
            if var != f"e{ion}" and ion in from_globals:
                g = _hoc_value(h, f"{var}0_{ion}_ion")
                if g is not None:
                    known, per_sec = [g], [g] * len(order)
            ions[var] = per_branch([known[0] if v is None else v for v in per_sec])
            ion_of[var] = ion

    cm = []
    for ps, s in zip(info, order, strict=True):
        n = len(parts[s.name()])
        per_seg = list(ps["cm"])[:: -1 if s.name() in flipped else 1]
        cm.extend(per_seg if n > 1 else [_one_value(ps["cm"], "cm", s.name())])
    cm = cm[0] if all(c == cm[0] for c in cm) else np.array(cm, dtype=float)
    clamps, iclamps, processes, objects, skipped = [], [], [], [], set()
    pp_ions: set = set()  # the ions the point processes use
    for ps, s in zip(info, order, strict=True):
        for kind, objs in sorted(ps["point_processes"].items()):
            for pp in sorted(objs, key=lambda o: o.hname()):
                seg = pp.get_segment()
                where = site_of(seg.sec.name(), float(seg.x))
                if kind == "IClamp":
                    values = (float(pp.delay), float(pp.dur), float(pp.amp))
                    if not np.all(np.isfinite(values)):
                        raise ValueError(
                            f"{pp.hname()} in section {s.name()}: (delay, dur, amp) = "
                            f"{values} must be finite."
                        )
                    clamps.append(where)
                    iclamps.append(values)
                    continue
                if kind in _RECORDING_ONLY:  # no current: the simulation is the same
                    skipped.add(kind)
                    continue
                if kind == "AlphaSynapse" and kind not in files:
                    cls = mod_class(_ALPHA_SYNAPSE_MOD, file="AlphaSynapse (neurojax)")
                elif kind not in files:
                    raise ValueError(
                        f"section {s.name()}: point process {kind} has no .mod file: pass it, "
                        "or its directory, as from_neuron(..., mods=...)."
                    )
                else:  # (hoc_set=True: the values only hoc sets, as for density ones)
                    cls = mod_class(files[kind], hoc_set=True)
                params = {}
                for nmodl_name, field in cls._spec.field_of.items():
                    try:  # RANGE: the instance's own value
                        params[field] = float(getattr(pp, nmodl_name))
                    except (AttributeError, LookupError):  # GLOBAL
                        g = _hoc_value(h, f"{nmodl_name}_{kind}")
                        if g is not None:
                            params[field] = g
                proc = cls(**params)
                for name in getattr(cls._spec, "pointers", ()):
                    proc = _bind_pointer(proc, pp, name, s.name(), order, site_of)
                processes.append((with_neuron_slope(proc) if neuron_slope else proc, where))
                objects.append(pp)
                pp_ions.update(u.ion for u in getattr(cls, "ion_use", ()))
    if skipped:
        warnings.warn(
            f"from_neuron: {sorted(skipped)} only record (no membrane current) and are not "
            "carried over; record spikes from the Solution instead.",
            stacklevel=2,
        )
    netstims = _netstims(h, objects, given_times)
    # an ion NEURON still holds but no mechanism uses (left by `uninsert`, or by a
    # mechanism deleted with its section's...): nothing reads it; `Cell` takes none such
    used = pp_ions | {u.ion for mech, _ in mechanisms for u in getattr(mech, "ion_use", ())}
    ions = {var: value for var, value in ions.items() if ion_of[var] in used}
    cell = Cell(
        morph,
        mechanisms,
        cm=cm,
        ra=per_branch([float(s.Ra) for s in order]),
        temperature=float(h.celsius),
        v_init=_hoc_value(h, "v_init", -65.0) if v_init is None else v_init,
        clamps=clamps,
        ions=ions or None,
        point_processes=processes,
        fixed_reversal=tuple(sorted(fixed)),
    )
    receivers = [netstims[j] for j in cell.geometry.receivers]
    return NeuronCell(cell, parts, tuple(iclamps), tuple(receivers), flipped)


def _bind_pointer(proc, pp, name: str, sec_name: str, order, site_of):
    """`proc` (the import of NEURON's point process `pp`) with its POINTER `name` bound
    as NEURON's `setpointer` bound it: to the voltage of a segment of the imported
    sections (`bind_pointer(name, v_at=...)`). A pointer set to anything else (another
    cell's voltage, a hoc variable, a mechanism's value) is refused, naming it: NEURON
    simulates that variable, the import cannot. One that is unset and read is refused
    too (NEURON would read freed memory or crash); unset and never read passes."""
    ref = getattr(pp, f"_ref_{name}", None)
    unset = ref is None or "null" in str(ref)
    if unset and name in getattr(proc._spec, "pointers_unread", ()):
        return proc
    if not unset:
        for sec in order:
            for seg in sec:
                if seg._ref_v == ref:
                    return proc.bind_pointer(name, v_at=site_of(sec.name(), float(seg.x)))
    # was: imported unbound, and refused only by simulate, naming the .mod file ("POINTER
    # pre of GABAa_S is not bound") though NEURON had it set to another cell's voltage
    where = (
        "is not set (no h.setpointer): NEURON would read an unset pointer"
        if unset
        else f"points to {ref}, which is not the voltage at a segment centre of the "
        "imported sections (another cell's voltage, a section end, a hoc variable or a "
        "mechanism's value): NEURON simulates that variable, the import cannot"
    )
    raise ValueError(
        f"from_neuron: {pp.hname()} in section {sec_name}: its POINTER {name} {where}. "
        "Import the sections it points into with the cell (one tree), or bind it on the "
        f"imported process yourself (bind_pointer({name!r}, values=..., dt=...) with the "
        "variable recorded in NEURON)."
    )


def _memb_order(h, classes: dict) -> list[str]:
    """The density mechanisms `classes` (suffix → imported class, None for `pas`) in the
    order NEURON evaluates them (its `memb_order_`): those writing an ion concentration
    first (`nrn_writes_conc` moves each, at registration, ahead of every mechanism that
    does not), each part in registration order (`MechanismType(0)`: NEURON's built-ins,
    then the loaded .mod files in nrnivmodl's order). It matters where a mechanism reads
    a concentration another writes: at initialisation (Santhakumar et al. 2005's cagk
    reads the ncai that ccanl's INITIAL sets; before it, it saw the 1 mM default and
    opened fully) and in every state update."""
    mt = h.MechanismType(0)
    registered = {}
    for i in range(int(mt.count())):
        mt.select(i)
        name = h.ref("")
        mt.selected(name)
        registered[name[0]] = i

    def writes_conc(cls) -> bool:
        return any({f"{u.ion}i", f"{u.ion}o"} & set(u.write) for u in getattr(cls, "ion_use", ()))

    def key(suffix):
        # a .mod file not loaded in NEURON (imported under another name): after the rest
        return (not writes_conc(classes[suffix]), registered.get(suffix, len(registered)), suffix)

    return sorted(classes, key=key)


def _ion_styles(h, order, info, sec_uses) -> tuple[set, set]:
    """Read each section's `ion_style` and map it onto `Cell`: `(fixed, from_globals)`,
    the ions whose reversal potential stays fixed where a concentration is used
    (`einit = eadvance = 0`: `Cell(fixed_reversal=...)`), and those whose concentrations
    `finitialize` sets from `<ion>i0_<ion>_ion`/`<ion>o0_<ion>_ion` (`cinit = 1`; else the
    sections' own values). NEURON's default is Nernst's reversal (at initialisation and
    every step) where a mechanism reads or writes a concentration of the ion, fixed
    otherwise, and `cinit = 1` where one writes it. Any other style — Nernst where no
    concentration is used, at initialisation only, or different styles of one ion in
    different sections — is refused. (A point process's ion use is not seen here: its
    section's density mechanisms decide.)"""
    modes: dict[str, set] = {}
    cinits: dict[str, set] = {}
    for j, (s, ps) in enumerate(zip(order, info, strict=True)):
        for ion in ps["ions"]:
            uses = [u for u in sec_uses[j] if u.ion == ion]
            conc = {f"{ion}i", f"{ion}o"}
            reads = any(conc & (set(u.read) | set(u.write)) for u in uses)
            writes_conc = any(conc & set(u.write) for u in uses)
            writes_e = any(f"e{ion}" in u.write for u in uses)
            style = int(h.ion_style(f"{ion}_ion", sec=s))
            # NEURON's bitmap (eion.cpp, nrn_promote; checked against ion_style(…) read
            # back in NEURON 9): 04 cinit, 040 einit, 0100 eadvance
            einit, eadvance, cinit = (style >> 5) & 1, (style >> 6) & 1, (style >> 2) & 1
            if writes_e and (einit, eadvance) == (0, 0):
                # a mechanism WRITEs e (nrn_promote(…, 3)): never Nernst's there, the
                # Cell's own rule where a mechanism writes e
                mode = "written"
            elif reads and not writes_e and einit == 1 and (eadvance == 1 or not writes_conc):
                # (eadvance off with the concentrations constant: the same values)
                mode = "nernst"
            elif not reads and not writes_e and (einit, eadvance) == (0, 0):
                mode = "unused"
            elif reads and not writes_e and (einit, eadvance) == (0, 0):
                mode = "fixed"
            else:
                raise ValueError(
                    f"section {s.name()}: ion_style of {ion}_ion has einit={einit}, "
                    f"eadvance={eadvance}; neurojax follows NEURON's default (e{ion} Nernst's "
                    "at every step where a mechanism uses a concentration, fixed elsewhere, "
                    "the value a mechanism writes where one WRITEs it) or "
                    f"e{ion} fixed throughout (einit = eadvance = 0). Change the ion_style "
                    "call to one of these."
                )
            if mode in ("nernst", "fixed"):
                modes.setdefault(ion, set()).add(mode)
            cinits.setdefault(ion, set()).add(cinit)
    for ion, m in modes.items():
        if len(m) > 1:
            raise ValueError(
                f"{ion}_ion: e{ion} is fixed in some sections and Nernst's in others "
                "(ion_style differs between sections); neurojax takes one rule per ion."
            )
    for ion, c in cinits.items():
        if len(c) > 1:
            raise ValueError(
                f"{ion}_ion: cinit differs between sections (ion_style); neurojax takes one "
                "initial concentration rule per ion."
            )
    fixed = {ion for ion, m in modes.items() if m == {"fixed"}}
    from_globals = {ion for ion, c in cinits.items() if c == {1}}
    return fixed, from_globals


def _spike_times(spike_times) -> dict[str, np.ndarray]:
    """`from_neuron`'s `spike_times`, checked: source name (`hname()`) → times (ms)."""
    if spike_times is None:
        return {}
    if not isinstance(spike_times, dict):
        raise TypeError(
            "from_neuron: spike_times must be a dict {source: times} (e.g. {vecstim: "
            f"h.Vector([5, 12.5])}}), got {type(spike_times).__name__}."
        )
    out = {}
    for src, times in spike_times.items():
        name = src if isinstance(src, str) else getattr(src, "hname", None)
        name = name() if callable(name) else name
        if not isinstance(name, str):
            raise TypeError(
                f"from_neuron: spike_times keys must be NEURON objects (a VecStim, a "
                f"NetStim) or their names, got {src!r}."
            )
        try:
            t = np.asarray(list(times) if hasattr(times, "hname") else times, dtype=float)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"from_neuron: spike_times[{name}] must be spike times in ms (a Vector, a "
                f"list, an array), got {times!r}."
            ) from e
        if t.ndim > 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError(
                f"from_neuron: spike_times[{name}] must be finite times >= 0 ms in one "
                f"dimension (NEURON's VecStim refuses earlier ones), got {t.tolist()[:8]}."
            )
        out[name] = t.reshape(-1)
    return out


def _netstims(h, objects, given=None) -> list[tuple]:
    """For each point process, the events that drive it through `NetCon`s as `(start,
    interval, number, delay, weight)` tuples: one per `NetStim`, one per spike (number 1)
    of a source whose times are `given` (`{hname: times}`, a VecStim's). A NetCon from
    anything else (a section's voltage: another cell; none: events from `NetCon.event`;
    another artificial cell), or a NetStim with noise, is refused, naming it; a source in
    `given` that drives none of the point processes is refused (a misspelt name)."""
    given = {} if given is None else given
    used = set()
    # NetStims that receive events themselves (a NetCon onto the NetStim: weight > 0 turns
    # it on, < 0 off): their spike times depend on those events
    driven = {
        nc.syn().hname() for nc in h.List("NetCon")
        if nc.active() and nc.syn() is not None and nc.syn().hname().startswith("NetStim[")
    }  # fmt: skip
    index = {o.hname(): j for j, o in enumerate(objects)}
    out = [[] for _ in objects]
    for nc in h.List("NetCon"):
        target = nc.syn()
        if target is None or target.hname() not in index:
            continue
        if not nc.active():
            # NEURON delivers nothing through it (nc.active(False)); its events were
            # imported, a 2.2 mV difference in a 20 ms run
            continue
        j = index[target.hname()]
        src = nc.pre()
        where = f"the NetCon onto {target.hname()}"
        if src is None:
            raise ValueError(
                f"{where} has no artificial-cell source (a presynaptic voltage, or events "
                "sent by NetCon.event): not carried over. Give its spike times to "
                "cell.event_input and pass inputs yourself."
            )
        delay, weight = float(nc.delay), float(nc.weight[0])
        if not (np.isfinite(delay) and np.isfinite(weight)) or delay < 0:
            raise ValueError(
                f"{where} from {src.hname()}: (delay, weight) = ({delay}, {weight}) must be "
                "finite, with delay >= 0."
            )
        if src.hname() in given:
            used.add(src.hname())
            out[j].extend((float(t), 1.0, 1.0, delay, weight) for t in given[src.hname()])
            continue
        if not src.hname().startswith("NetStim["):
            raise ValueError(
                f"{where} comes from {src.hname()}, whose spike times NEURON does not "
                "expose (a VecStim plays a Vector only its C code reads): pass them as "
                f"from_neuron(..., spike_times={{{src.hname().split('[')[0].lower()}: "
                "times}) (the Vector it plays)."
            )
        if src.hname() in driven:
            # was imported as free-running: the events that start and stop it were ignored
            raise ValueError(
                f"{where} comes from {src.hname()}, which is itself the target of a NetCon "
                "(events turn a NetStim on and off): its spike times are not its parameters'. "
                "Record them in NEURON (nc.record) and pass them as from_neuron(..., "
                "spike_times={netstim: times})."
            )
        if float(src.noise) != 0.0:
            raise ValueError(
                f"{where} comes from {src.hname()} with noise = {src.noise}: its spike times "
                "come from NEURON's random stream. Record them in NEURON (nc.record) and "
                "pass them as from_neuron(..., spike_times={netstim: times})."
            )
        values = (float(src.start), float(src.interval), float(src.number), delay, weight)
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{where} from {src.hname()}: (start, interval, number, delay, weight) = "
                f"{values} must be finite."
            )
        out[j].append(values)
    unused = sorted(set(given) - used)
    if unused:
        raise ValueError(
            f"from_neuron: spike_times names {unused}, which drive(s) none of the point "
            "processes of these sections through a NetCon; check the source."
        )
    return [tuple(x) for x in out]
