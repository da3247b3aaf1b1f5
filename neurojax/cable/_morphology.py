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
            if (
                isinstance(value, (bool, str, bytes))
                or value is None
                or np.ndim(value) != 0
                or np.iscomplexobj(value)
            ):
                raise TypeError(f"Branch {name} must be a real number, got {value!r}.")
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
            span = float(np.sum(np.linalg.norm(np.diff(pts[:, :3], axis=0), axis=1)))
            if not np.isclose(float(self.length), span, rtol=1e-6, atol=0.0):
                # distances and the discretisation read `length`, the areas the points:
                # two different cells in one
                raise ValueError(
                    f"Branch length={self.length} µm but its points span {span:.6g} µm; "
                    "build it with branch_from_points(points), which takes the length from "
                    "the points, or give a length equal to their span."
                )

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

    # ------------------------------------------------------------------ regions & edits

    def branches_where(self, where) -> tuple[int, ...]:
        """Branch indices of a region: `None` (all), a type (`"apical"`), a list of types
        (`["basal", "apical"]`), or branch indices. `ValueError` for a type no branch has
        or an index off the cell."""
        n = len(self.branches)
        if where is None:
            return tuple(range(n))
        items = [where] if isinstance(where, str) or np.ndim(where) == 0 else list(where)
        if not items:
            raise ValueError(
                "the region is empty (where=[]): give a type such as 'apical', a list of "
                "types or branch indices, or None for the whole cell."
            )
        out = set()
        for w in items:
            if isinstance(w, str):
                found = self.branches_of_type(w)
                if not found:
                    raise ValueError(
                        f"no branch has type {w!r}; the types are {sorted(set(self.types))}."
                    )
                out |= set(found)
            elif (
                isinstance(w, (bool, np.bool_, bytes))
                or not isinstance(w, (int, float, np.integer, np.floating))
                or not np.isfinite(w)
                or int(w) != w
                or not 0 <= w < n
            ):
                raise ValueError(f"branch {w!r} is off the cell (branches 0..{n - 1}).")
            else:
                out.add(int(w))
        return tuple(sorted(out))

    def distances(self, where=None, origin: tuple[int, float] = (0, 0.5)) -> np.ndarray:
        """Path distance (µm, along the tree) from `origin` `(branch, x)` to the centre of
        every compartment of region `where` (see `branches_where`), in the order a `Cell`
        orders that region's compartments — so `f(morph.distances("apical"))` is a
        mechanism parameter with one value per compartment. NEURON's
        `h.distance(soma(0.5), seg)` for each `seg` of the region."""
        disc = self.discretise()
        d = disc.path_distances(origin)
        branches = self.branches_where(where)
        nodes = disc.membrane[np.isin(disc.branch[disc.membrane], branches)]
        return d[nodes]

    def values_by_type(self, values: dict, default=None) -> np.ndarray:
        """One value per branch from a value per type, e.g. `cm=morph.values_by_type(
        {"soma": 1.0, "axon": 1.0}, default=2.0)` (Hay et al.'s spine correction);
        `ValueError` for a type the morphology lacks, a branch with no value, or a value
        that is not a finite number."""
        if not isinstance(values, dict):
            raise TypeError(
                f"values_by_type: values must be a dict {{type: value}}, e.g. {{'soma': 1.0}}, "
                f"got {values!r}."
            )
        for key, value in list(values.items()) + [("default", default)]:
            if key == "default" and value is None:
                continue
            if (
                isinstance(value, (bool, str, bytes, np.bool_))
                or np.ndim(value) != 0
                or np.iscomplexobj(value)
            ):
                raise TypeError(
                    f"values_by_type: the value for {key!r} must be a number, got {value!r}."
                )
            if not np.isfinite(value):
                raise ValueError(
                    f"values_by_type: the value for {key!r} must be finite, got {value!r}."
                )
        unknown = sorted(set(values) - set(self.types))
        if unknown:
            raise ValueError(
                f"no branch has type {unknown}; the types are {sorted(set(self.types))}."
            )
        out = []
        for i, t in enumerate(self.types):
            if t in values:
                out.append(float(values[t]))
            elif default is not None:
                out.append(float(default))
            else:
                raise ValueError(
                    f"branch {i} has type {t!r}, which has no value and there is no default."
                )
        return np.array(out)

    def with_nseg_by_length(self, max_length: float = 40.0) -> Morphology:
        """NEURON models' rule `nseg = 1 + 2·int(L/max_length)` (Hay et al. 2011 use 40
        µm): odd nseg, segments at most about `max_length` long."""
        if (
            isinstance(max_length, (bool, str, bytes))
            or np.ndim(max_length) != 0
            or np.iscomplexobj(max_length)
        ):
            raise TypeError(f"max_length must be a length in µm (a number), got {max_length!r}.")
        if not (np.isfinite(max_length) and max_length > 0):
            raise ValueError(f"max_length must be finite and > 0 µm, got {max_length}.")
        nseg = [1 + 2 * int(br.length / max_length) for br in self.branches]
        if max(nseg) > 10**6:
            b = int(np.argmax(nseg))
            raise ValueError(
                f"with_nseg_by_length({max_length}): branch {b} would need {nseg[b]} "
                "compartments (more than 10⁶); use a larger max_length (µm)."
            )
        return self.with_nseg(nseg)

    def replace_axon(self, length: float = 30.0, n: int = 2, *, type: str = "axon",
                     max_length: float = 40.0) -> Morphology:  # fmt: skip
        """The morphology with every branch of `type` removed and replaced by `n` chained
        cylinders of `length` µm each (Hay et al. 2011's axon stub, `n = 2`, 30 µm), the
        k-th with the diameter of the original axon at the middle of its k-th branch (from
        the root of the axon along its first children; the last one repeated if the
        axon has fewer), attached where the original axon was, `nseg = 1 +
        2·int(length/max_length)`. `ValueError` if there is no such branch, if it is the
        root, or if a branch of another type hangs from it."""
        _check_int("replace_axon: n", n, 1, "stub cylinders")
        for name, value in (("length", length), ("max_length", max_length)):
            if isinstance(value, (bool, str, bytes)) or value is None or np.ndim(value) != 0:
                raise TypeError(f"replace_axon: {name} must be a number of µm, got {value!r}.")
        if not (np.isfinite(max_length) and max_length > 0):
            raise ValueError(
                f"replace_axon: max_length must be finite and > 0 µm, got {max_length}."
            )
        if not (np.isfinite(length) and length > 0):
            raise ValueError(f"replace_axon: length must be finite and > 0 µm, got {length}.")
        axon = set(self.branches_of_type(type))
        if not axon:
            raise ValueError(f"replace_axon: no branch has type {type!r}; the types are "
                             f"{sorted(set(self.types))}.")  # fmt: skip
        if 0 in axon:
            raise ValueError(f"replace_axon: the root branch is of type {type!r}.")
        for i, br in enumerate(self.branches):
            if i not in axon and br.parent in axon:
                raise ValueError(
                    f"replace_axon: branch {i} ({br.type}) hangs from the {type} branch "
                    f"{br.parent}; it would be cut off."
                )
        roots = sorted(i for i in axon if self.branches[i].parent not in axon)
        root = roots[0]  # the first axon leaving the rest of the cell
        chain, b = [], root
        while b is not None and len(chain) < n:
            chain.append(b)
            kids = [j for j in axon if self.branches[j].parent == b]
            b = min(kids) if kids else None
        diams = []
        for k in range(n):
            br = self.branches[chain[min(k, len(chain) - 1)]]
            diams.append(float(np.interp(br.length / 2, br.arc, br.diameters)))
        keep = [i for i in range(len(self.branches)) if i not in axon]
        new_index = {old: k for k, old in enumerate(keep)}
        out = []
        for i in keep:
            br = self.branches[i]
            out.append(dataclasses.replace(br, parent=new_index.get(br.parent, -1)))
        nseg = 1 + 2 * int(length / max_length)
        first = self.branches[root]
        for k in range(n):
            parent = new_index[first.parent] if k == 0 else len(out) - 1
            out.append(Branch(length, diams[k], parent=parent,
                              parent_x=first.parent_x if k == 0 else 1.0, nseg=nseg, type=type))  # fmt: skip  # noqa: E501
        return Morphology(out)


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

    def diameters(self) -> np.ndarray:
        """Diameter (µm) at every node: a segment's mean diameter along its length
        (NEURON's `seg.diam`; the branch's diameter for a cylinder), 0 at the
        membrane-less end nodes."""
        out = np.zeros(self.n_nodes)
        for b, br in enumerate(self.morphology.branches):
            arc, d, n = br.arc, br.diameters, br.nseg
            for k, node in enumerate(self.centres[b]):
                lo, hi = arc[-1] * k / n, arc[-1] * (k + 1) / n
                s = np.unique(np.concatenate([[lo, hi], arc[(arc > lo) & (arc < hi)]]))
                ds = np.interp(s, arc, d)
                out[node] = np.sum((ds[1:] + ds[:-1]) / 2 * np.diff(s)) / (hi - lo)
        return out

    def path_distances(self, origin: tuple[int, float] = (0, 0.5)) -> np.ndarray:
        """Path distance (µm, along the branches) from `origin` `(branch, x)` to every
        node (NEURON's `h.distance`; a child attached at `parent_x` starts there)."""
        morph = self.morphology
        if isinstance(origin, (str, bytes)) or np.ndim(origin) != 1 or len(origin) != 2:
            raise TypeError(
                f"origin must be a site (branch, x), e.g. (0, 0.5) for the root's middle, got "
                f"{origin!r}."
            )
        b0, x0 = origin
        self.node(b0, x0)  # validates the origin
        b0 = int(b0)
        brs = morph.branches
        # p(b, x): distance from the root's 0 end, along the tree
        start = np.zeros(len(brs))
        for b, br in enumerate(brs):
            if b:
                start[b] = start[br.parent] + br.parent_x * brs[br.parent].length
        lengths = np.array([br.length for br in brs])

        def ancestors(b):
            out = [b]
            while brs[out[-1]].parent >= 0:
                out.append(brs[out[-1]].parent)
            return out

        anc0 = ancestors(b0)
        p0 = start[b0] + x0 * lengths[b0]
        dist = np.empty(self.n_nodes)
        for i in range(self.n_nodes):
            b, x = int(self.branch[i]), float(self.x[i])
            p = start[b] + x * lengths[b]
            chain = ancestors(b)
            common = next(c for c in chain if c in anc0)  # lowest common branch

            def on_common(chain_, b_, x_, common=common):
                if b_ == common:
                    return x_
                return brs[chain_[chain_.index(common) - 1]].parent_x

            xa, xb = on_common(chain, b, x), on_common(anc0, b0, x0)
            pa, pb = start[common] + xa * lengths[common], start[common] + xb * lengths[common]
            dist[i] = (p - pa) + (p0 - pb) + abs(pa - pb)
        return dist

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


# ---------------------------------------------------------------------- distributions
# Parameter profiles along the tree, as published models define channel densities: apply
# to `Morphology.distances(...)` (µm). jax.numpy throughout, so their parameters can be
# traced and trained.


def _check_profile(fn: str, d, *, open_ends: tuple[str, ...] = (), **params):
    """Python-side checks of a distribution's concrete arguments (traced ones, e.g. while
    fitting, pass): finite numbers (`open_ends` may be ±inf, not NaN), and the named scale
    (`length`, `width`) not zero."""
    import jax

    for name, value in [("d", d), *params.items()]:
        if isinstance(value, jax.core.Tracer):
            continue
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"{fn}: {name} must be a number or an array, got {value!r}.")
        x = np.asarray(value)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) or np.iscomplexobj(x):
            raise TypeError(f"{fn}: {name} must be real numbers, got {value!r}.")
        ok = ~np.isnan(x) if name in open_ends else np.isfinite(x)
        if not np.all(ok):
            what = "path distances in µm" if name == "d" else "finite"
            raise ValueError(f"{fn}: {name} must be {what}, not NaN or inf; got {value!r}.")
        if name in ("length", "width") and np.any(x == 0):
            raise ValueError(
                f"{fn}: {name} must not be 0 µm (it divides the distance); got {value!r}."
            )


def linear(d, at_origin, slope):
    """`at_origin + slope·d` (slope per µm)."""
    import jax.numpy as jnp

    _check_profile("linear", d, at_origin=at_origin, slope=slope)
    return at_origin + slope * jnp.asarray(d)


def exponential(d, a, b, length, *, offset=0.0):
    """`a + b·exp((d − offset)/length)` (Hay et al.'s Ih: `2e-4·(−0.8696 + 2.087·exp(d/323))`
    is `exponential(d, -0.8696*2e-4, 2.087*2e-4, 323.0)`)."""
    import jax.numpy as jnp

    _check_profile("exponential", d, a=a, b=b, length=length, offset=offset)
    return a + b * jnp.exp((jnp.asarray(d) - offset) / length)


def sigmoid(d, low, high, midpoint, width):
    """`low + (high − low)/(1 + exp((midpoint − d)/width))`: from `low` near the origin to
    `high` far away (`width` < 0 turns it round)."""
    import jax.numpy as jnp

    _check_profile("sigmoid", d, low=low, high=high, midpoint=midpoint, width=width)
    return low + (high - low) / (1.0 + jnp.exp((midpoint - jnp.asarray(d)) / width))


def step(d, inside, outside, start, end):
    """`inside` for `start ≤ d ≤ end`, `outside` elsewhere (Hay et al.'s Ca²⁺ hot zone:
    100× the LVA density from 685 to 885 µm)."""
    import jax
    import jax.numpy as jnp

    _check_profile(
        "step", d, inside=inside, outside=outside, start=start, end=end, open_ends=("start", "end")
    )
    if not any(isinstance(x, jax.core.Tracer) for x in (start, end)) and not start <= end:
        raise ValueError(
            f"step: start={start} µm is beyond end={end} µm, so no distance is inside; "
            "give start <= end."
        )
    d = jnp.asarray(d)
    return jnp.where((d >= start) & (d <= end), inside, outside)
