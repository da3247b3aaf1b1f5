"""Morphology: a tree of cable branches, and its discretisation into compartments exactly
as NEURON does it.

Units: lengths and diameters in µm, areas in µm², axial resistivity `ra` in Ω·cm,
resistances in MΩ, conductances in µS.

**NEURON's discretisation** (`treeset.cpp`, `nrn_area_ri` and `connection_coef`), which we
reproduce node for node so that the same tree and `nseg` give the same matrix:

- a branch (NEURON: section) of length L cut into `nseg` segments has one node at the
  centre of each segment, with the segment's membrane area, and one node at its 1 end
  with no membrane (area 0);
- the root branch also has a node at its 0 end with no membrane; the 0 end of every
  other branch *is* the node it is attached to on its parent (`parent_x = 1`: the
  parent's 1-end node; `0 < parent_x < 1`: the centre of the parent's segment containing
  `parent_x`; `parent_x = 0`: the parent's 0-end node);
- the axial resistance between a node and its parent node is the sum of the half
  segments between them, all on the child's branch: `R = ra·(L/2nseg)/(π d²/4)·1e-2` MΩ per
  half of a cylinder (and the exact frustum integral `4·ra·1e-2/π · ∫ds/(d₁d₂)` piecewise
  along 3-d points, as NEURON's `diam_from_list`).

The membrane-less nodes make branch points exact: the currents from all branches meet
there by Kirchhoff's law, with no fictitious membrane.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ._tree_solve import TreeTopology

SWC_TYPES = {1: "soma", 2: "axon", 3: "basal", 4: "apical"}


def _check_int(what: str, value, lowest: int, meaning: str) -> int:
    """An integer (Python or numpy, not bool, not a float such as 2.0) >= `lowest`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = f" (pass {int(value)})" if isinstance(value, float) and value == int(value) else ""
        raise TypeError(
            f"{what} must be an int >= {lowest} ({meaning}), got {value!r} of type "
            f"{type(value).__name__}{hint}."
        )
    if value < lowest:
        raise ValueError(f"{what} must be an int >= {lowest} ({meaning}), got {value}.")
    return int(value)


@dataclasses.dataclass(frozen=True, eq=False)
class Branch:
    """One unbranched cable (NEURON: a section).

    Either a cylinder (`length`, `diameter`) or a piecewise-linear tube through 3-d
    `points` (`(n, 4)`: x, y, z, diameter, µm; frustums between consecutive points).

    - `parent`: index of the parent branch in the morphology (`-1`: the root).
    - `parent_x`: where on the parent it attaches, 0–1 (1: the parent's distal end, like
      NEURON's `child.connect(parent(1), 0)`).
    - `nseg`: number of compartments (segments), ≥ 1.
    - `type`: a label, `"soma"`, `"axon"`, `"basal"`, `"apical"` or anything else.
    """

    length: float
    diameter: float
    parent: int = -1
    parent_x: float = 1.0
    nseg: int = 1
    type: str = "dend"
    points: np.ndarray | None = None

    def __post_init__(self):
        # Checked here, at construction, so that no malformed branch reaches the
        # discretisation (where a float nseg or parent used to fail deep inside).
        for name in ("length", "diameter", "parent_x"):
            value = getattr(self, name)
            if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
                raise TypeError(f"Branch {name} must be a number, got {value!r}.")
        if not (np.isfinite(self.length) and self.length > 0):
            raise ValueError(f"Branch length {self.length} µm: lengths must be > 0 µm.")
        if not (np.isfinite(self.diameter) and self.diameter > 0):
            raise ValueError(f"Branch diameter {self.diameter} µm: diameters must be > 0 µm.")
        _check_int("Branch nseg", self.nseg, 1, "compartments per branch")
        _check_int("Branch parent", self.parent, -1, "the parent branch's index, -1 for the root")
        if not (np.isfinite(self.parent_x) and 0.0 <= self.parent_x <= 1.0):
            raise ValueError(f"Branch parent_x is {self.parent_x}; it must lie in [0, 1].")
        if not isinstance(self.type, str):
            raise TypeError(f"Branch type must be a string such as 'soma', got {self.type!r}.")
        if self.points is not None:
            pts = np.asarray(self.points)
            if pts.ndim != 2 or pts.shape[1] != 4 or pts.shape[0] < 2:
                raise ValueError(
                    f"Branch points must be shaped (n >= 2, 4) as x, y, z, diameter in µm, got "
                    f"{pts.shape}."
                )
            if not np.all(np.isfinite(pts)):
                raise ValueError("Branch points contain NaN or inf; give finite coordinates.")

    @property
    def arc(self) -> np.ndarray:
        """Arc length of each 3-d point from the 0 end (µm); `[0, L]` for a cylinder."""
        if self.points is None:
            return np.array([0.0, self.length])
        steps = np.linalg.norm(np.diff(self.points[:, :3], axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    @property
    def diameters(self) -> np.ndarray:
        if self.points is None:
            return np.array([self.diameter, self.diameter])
        return self.points[:, 3]

    @property
    def area(self) -> float:
        """Lateral membrane area, µm² (frustums, no end caps — as NEURON)."""
        arc, d = self.arc, self.diameters
        ds, r1, r2 = np.diff(arc), d[:-1] / 2, d[1:] / 2
        return float(np.sum(np.pi * (r1 + r2) * np.sqrt(ds**2 + (r2 - r1) ** 2)))


def branch_from_points(points, *, parent=-1, parent_x=1.0, nseg=1, type="dend") -> Branch:
    """A branch through 3-d points `(n ≥ 2, 4)`: x, y, z, diameter (µm)."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 4 or points.shape[0] < 2:
        raise ValueError(
            f"points must be shaped (n >= 2, 4) as x, y, z, diameter in µm, got {points.shape}."
        )
    length = float(np.sum(np.linalg.norm(np.diff(points[:, :3], axis=0), axis=1)))
    mean_d = float(np.mean(points[:, 3]))
    return Branch(length, mean_d, parent, parent_x, nseg, type, points)


class Morphology:
    """A neuron's shape: branches (`Branch`) forming one tree.

    Branch 0 is the root; every other branch's `parent` must come before it. Build from
    cylinders with `Morphology([Branch(length=..., diameter=..., parent=...), ...])`, or
    read a reconstruction with `neurojax.cable.read_swc`. Set the compartments with
    `with_nseg` or `with_d_lambda`.

    Raises `ValueError` for a non-positive length, diameter or nseg, a parent index that
    does not come before the branch, or `parent_x` outside [0, 1].
    """

    def __init__(self, branches: Sequence[Branch]):
        branches = tuple(branches)
        if not branches:
            raise ValueError("a morphology needs at least one branch.")
        for i, br in enumerate(branches):
            if not isinstance(br, Branch):
                raise TypeError(f"branch {i} is a {type(br).__name__}, not a Branch.")
            where = f"branch {i} ({br.type})"
            if i == 0 and br.parent != -1:
                raise ValueError(f"{where} is the root: its parent must be -1, got {br.parent}.")
            if i > 0 and not 0 <= br.parent < i:
                raise ValueError(
                    f"{where} has parent {br.parent}; every branch but the root needs a parent "
                    "listed before it (0 <= parent < its own index)."
                )
            if not (np.isfinite(br.length) and br.length > 0):
                raise ValueError(f"{where} has length {br.length} µm; lengths must be > 0.")
            d = br.diameters
            if not np.all(np.isfinite(d) & (d > 0)):
                raise ValueError(
                    f"{where} has diameter {d.min() if d.size else br.diameter} µm; diameters "
                    "must be > 0."
                )
            _check_int(f"{where}: nseg", br.nseg, 1, "compartments per branch")
            if not 0.0 <= br.parent_x <= 1.0:
                raise ValueError(f"{where} has parent_x={br.parent_x}; it must lie in [0, 1].")
        self.branches = branches

    def __len__(self):
        return len(self.branches)

    def __repr__(self):
        return (
            f"Morphology({len(self.branches)} branches, {self.n_segments} segments, "
            f"L={self.total_length:.1f} µm, area={self.area:.1f} µm²)"
        )

    @property
    def total_length(self) -> float:
        """Sum of branch lengths, µm (NEURON: sum of `sec.L`)."""
        return float(sum(br.length for br in self.branches))

    @property
    def area(self) -> float:
        """Total lateral membrane area, µm² (NEURON: sum of `seg.area()`)."""
        return float(sum(br.area for br in self.branches))

    @property
    def n_segments(self) -> int:
        return int(sum(br.nseg for br in self.branches))

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(br.type for br in self.branches)

    def branches_of_type(self, type: str) -> tuple[int, ...]:
        """Indices of the branches labelled `type` (e.g. "soma", "axon", "basal", "apical")."""
        return tuple(i for i, br in enumerate(self.branches) if br.type == type)

    def with_nseg(self, nseg: int | Sequence[int]) -> Morphology:
        """The same shape with `nseg` compartments per branch (one number or one per branch)."""
        if np.ndim(nseg) == 0:
            nseg = [nseg] * len(self.branches)
        nseg = list(np.asarray(nseg).ravel()) if np.ndim(nseg) > 1 else list(nseg)
        if len(nseg) != len(self.branches):
            raise ValueError(f"got {len(nseg)} nseg values for {len(self.branches)} branches.")
        for i, n in enumerate(nseg):
            _check_int(f"with_nseg: nseg of branch {i}", n, 1, "compartments per branch")
        return Morphology(
            [
                dataclasses.replace(br, nseg=int(n))
                for br, n in zip(self.branches, nseg, strict=True)
            ]
        )

    def with_d_lambda(
        self, d_lambda: float = 0.1, *, ra: float = 35.4, cm: float = 1.0, freq: float = 100.0
    ) -> Morphology:
        """NEURON's d_lambda rule (Hines & Carnevale 2001, `fixnseg.hoc`): the odd nseg with
        segments no longer than `d_lambda` × the AC length constant at `freq` Hz,
        `λ_f = 1e5·sqrt(d/(4π·f·ra·cm))` µm (d in µm, ra Ω·cm, cm µF/cm²).

        `ra` and `cm` are scalars or one value per branch (as `Cell`'s). Raises
        `ValueError` for a `d_lambda`, `ra`, `cm` or `freq` that is not finite and > 0
        (each would give no length constant, or a meaningless nseg), and when the rule asks
        for more than 10⁶ compartments on a branch."""
        n_br = len(self.branches)
        checked = {}
        for name, value in (("d_lambda", d_lambda), ("ra", ra), ("cm", cm), ("freq", freq)):
            if isinstance(value, (bool, str, bytes)):
                raise TypeError(f"with_d_lambda: {name} must be a number, got {value!r}.")
            x = np.asarray(value, dtype=float)
            if name in ("ra", "cm") and x.ndim == 1 and x.shape == (n_br,):
                pass
            elif x.ndim != 0:
                raise ValueError(
                    f"with_d_lambda: {name} must be a scalar"
                    + (f" or one value per branch ({n_br},)" if name in ("ra", "cm") else "")
                    + f", got shape {x.shape}."
                )
            if not np.all(np.isfinite(x) & (x > 0)):
                unit = {"d_lambda": "", "ra": " Ω·cm", "cm": " µF/cm²", "freq": " Hz"}[name]
                raise ValueError(
                    f"with_d_lambda: {name} must be finite and > 0{unit}, got "
                    f"{x.tolist()}; the d_lambda rule needs a positive length constant."
                )
            checked[name] = np.broadcast_to(x, (n_br,)) if name in ("ra", "cm") else float(x)
        d_lambda, freq = checked["d_lambda"], checked["freq"]
        nseg = []
        for b, br in enumerate(self.branches):
            ra, cm = checked["ra"][b], checked["cm"][b]
            arc, d = br.arc, br.diameters
            # λ_f averaged over the branch the way fixnseg.hoc does for 3-d points:
            # L / λ = Σ ds / λ_f(mean d of the piece)
            ds = np.diff(arc)
            dm = (d[:-1] + d[1:]) / 2
            lam = 1e5 * np.sqrt(dm / (4 * np.pi * freq * ra * cm))
            electrotonic = float(np.sum(ds / lam))
            n = (electrotonic / d_lambda + 0.9) / 2
            if not n < 5e5:
                raise ValueError(
                    f"with_d_lambda({d_lambda}): branch {b} would need {2 * n + 1:.3g} "
                    "compartments (more than 10⁶); use a larger d_lambda."
                )
            nseg.append(int(n) * 2 + 1)
        return self.with_nseg(nseg)

    def discretise(self) -> Discretisation:
        """Compartments exactly as NEURON builds them (module docstring)."""
        return Discretisation(self)


def _half_segment_integrals(arc, d, nseg):
    """For each of the 2·nseg half segments: (area µm², ∫ds/(d₁d₂) 1/µm), by NEURON's
    `diam_from_list` walk over the 3-d points (linear interpolation of d in arc length)."""
    npt = len(arc)
    ds = arc[-1] / nseg
    areas, rints = [], []
    j = 0
    x1, y1 = arc[0], abs(d[0])
    si = 0.0
    for _ in range(nseg):
        for _half in range(2):
            area = ri = 0.0
            sip = si + ds / 2
            while True:
                jp = j + 1
                xj, xjp = arc[j], arc[jp]
                if xjp > sip or jp == npt - 1:
                    frac = 1.0 if abs(xjp - xj) < 1e-10 else (sip - xj) / (xjp - xj)
                    x2, y2 = sip, (1 - frac) * abs(d[j]) + frac * abs(d[jp])
                    jnext = j
                else:
                    x2, y2 = xjp, abs(d[jp])
                    jnext = jp
                delta = max(x2 - x1, 1e-15)
                temp = y2 * y1 / delta
                ri += 1 / (temp if temp != 0 else 1e-15)
                area += (y2 + y1) * math.sqrt(delta * delta + (0.5 * (y2 - y1)) ** 2)
                x1, y1 = x2, y2
                if j == jnext:
                    break
                j = jnext
            areas.append(area * 0.5 * math.pi)
            rints.append(ri)
            si = sip
    return np.array(areas), np.array(rints)


class Discretisation:
    """The compartments (NEURON: nodes) of a morphology, in numpy.

    Nodes are numbered from the root so that `parent[i] < i`: node 0 is the root
    branch's 0 end; then, branch by branch, its segment centres and its 1 end.

    - `parent`: `(n_nodes,)` parent node (−1 for node 0).
    - `area`: µm²; 0 at the membrane-less end nodes.
    - `r_per_ra`: axial resistance from the node to its parent, MΩ per Ω·cm of `ra`
      (multiply by the branch's `ra`); `inf` for node 0.
    - `branch`: branch of each node (for an end node, the branch it closes; node 0: 0).
    - `x`: position along the branch, 0–1 (centres at `(k + ½)/nseg`, ends at 0 or 1).
    - `membrane`: indices of the nodes with membrane (the segment centres).
    """

    def __init__(self, morphology: Morphology):
        self.morphology = morphology
        parent, area, rgeo, branch, xs = [-1], [0.0], [np.inf], [0], [0.0]
        start, centres, end = [], [], []
        for b, br in enumerate(morphology.branches):
            n = br.nseg
            if b == 0:
                conn = 0
            else:
                conn = _node_at(
                    br.parent_x,
                    morphology.branches[br.parent],
                    start[br.parent],
                    centres[br.parent],
                    end[br.parent],
                )
            start.append(conn)
            seg_area, seg_r = _half_segment_integrals(br.arc, br.diameters, n)
            # MΩ per Ω·cm: 4·1e-2/π · ∫ds/(d₁d₂) (NEURON: ri·ra/π·(4·0.01))
            half_r = seg_r * 4e-2 / np.pi
            first = len(parent)
            ids = []
            for k in range(n):
                parent.append(conn if k == 0 else first + k - 1)
                area.append(seg_area[2 * k] + seg_area[2 * k + 1])
                rgeo.append(half_r[2 * k] + (half_r[2 * k - 1] if k > 0 else 0.0))
                branch.append(b)
                xs.append((k + 0.5) / n)
                ids.append(first + k)
            centres.append(ids)
            parent.append(first + n - 1)
            area.append(0.0)
            rgeo.append(half_r[2 * n - 1])
            branch.append(b)
            xs.append(1.0)
            end.append(first + n)
        self.parent = np.array(parent)
        self.area = np.array(area)
        self.r_per_ra = np.array(rgeo)
        self.branch = np.array(branch)
        self.x = np.array(xs)
        self.membrane = np.nonzero(self.area > 0)[0]
        self.start, self.centres, self.end = start, centres, end
        self.topology = TreeTopology(self.parent)

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    def node(self, branch: int, x: float) -> int:
        """The node NEURON uses for `branch(x)`: the 0 or 1 end node at x = 0 or 1, else
        the centre of the segment containing x. `ValueError` off the cell."""
        n_br = len(self.morphology.branches)
        for name, value in (("branch", branch), ("x", x)):
            if isinstance(value, (bool, str, bytes)) or np.ndim(value) != 0:
                raise TypeError(f"site {name} must be a number, got {value!r}.")
        if not np.isfinite(branch) or int(branch) != branch or not 0 <= branch < n_br:
            raise ValueError(
                f"site branch={branch} is off the cell: it has branches 0..{n_br - 1}."
            )
        if not (np.isfinite(x) and 0.0 <= x <= 1.0):
            raise ValueError(f"site x={x} on branch {branch} is off the cell: x must be in [0, 1].")
        branch = int(branch)
        br = self.morphology.branches[branch]
        return _node_at(x, br, self.start[branch], self.centres[branch], self.end[branch])

    def segment(self, branch: int, x: float) -> int:
        """The membrane node (segment centre) of `branch(x)` — where a point process sits
        in NEURON (x = 0 and 1 map to the first and last segment)."""
        self.node(branch, x)  # validates
        br = self.morphology.branches[int(branch)]
        return self.centres[int(branch)][min(int(x * br.nseg), br.nseg - 1)]


def _node_at(x, br, start, centres, end):
    if x == 0.0:
        return start
    if x == 1.0:
        return end
    return centres[min(int(x * br.nseg), br.nseg - 1)]
