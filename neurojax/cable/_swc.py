"""Reading SWC reconstructions into a `Morphology`, the way NEURON's Import3d does.

SWC (Cannon et al. 1998; NeuroMorpho.org): one point per line, `id type x y z radius
parent` (µm; type 1 soma, 2 axon, 3 basal dendrite, 4 apical dendrite; parent −1 for the
root), `#` starts a comment.

Branches follow NEURON's `Import3d_SWC_read` + `Import3d_GUI.instantiate` (checked section
by section against NEURON 9 on the files in `tests/data/cable`):

- a branch is a run of points of one type, each on the line after its parent; it ends
  at a point with several children — except that a soma run goes on past children of
  other types, which attach to the soma's middle (`parent_x = 0.5`);
- the root branch holds the root and its first child's run; the root's other children
  attach at its 0 end (`parent_x = 0`), children of a run's last point at its 1 end;
- a branch starts at its parent point (so no gap is left) — with the parent's diameter,
  except after a soma point where the child's own first diameter is used (a thin
  dendrite does not inherit the soma's width); a child of a *somatic branch point* (a
  soma point with two or more soma neighbours) starts at its own first point instead;
- a one-point soma of radius r becomes a cylinder of length and diameter 2r along x
  (membrane area 4πr², the sphere's), with its dendrites attached at its middle (soma
  points among its children at its 0 end);
- so does NeuroMorpho.org's three-point soma (the root and two points at ±r, one
  diameter, no children: NEURON's `neuromorph_3point_soma`), its two outer points dropped;
- a root point whose run ends at once (a soma root whose point 1 is not a soma point;
  any other root whose last child has another type) is such a cylinder too, of the
  root's type: a dendrite root point with the soma as its child gives a 2r "basal" root,
  the soma hanging at its 0 end (Import3d's one-point root section); children of a
  non-soma one-point root attach at its 0 end, starting at the root point;
- a root of another type that runs on into point 1 of a different type (Import3d does
  so when a later child of the root has the root's type, and a soma point there is lost
  as soma) is refused, naming the line;
- a one-point branch starts at its parent point (a one-point soma's centre), never by a
  wire;
"""

from __future__ import annotations

import os

import numpy as np

from ._morphology import SWC_TYPES, Branch, Morphology, branch_from_points


def _fail(path, lineno, line, problem, fix):
    return ValueError(f"{os.fspath(path)}, line {lineno}: {line.strip()!r}: {problem}. {fix}")


def read_swc(
    path: str | os.PathLike,
    *,
    nseg: int = 1,
    min_radius: float | None = None,
    merge_zero_length: bool = True,
) -> Morphology:
    """Read an SWC file into a `Morphology` (branches as NEURON's Import3d builds them).

    **Arguments**

    - `path`: the `.swc` file.
    - `nseg`: compartments per branch (change later with `with_nseg` / `with_d_lambda`).
    - `min_radius`: radii below this (µm) are raised to it — a repair for files without
      radii; without it a radius ≤ 0 is an error.
    - `merge_zero_length` (default `True`): drop points at the same place as their parent
      (re-attaching their children to the parent). MorphIO and many NeuroMorpho files
      repeat a branch's first point at its parent's position; NEURON, MorphIO and Jaxley
      load such files, and merged the total length equals NEURON's and the area is within
      0.3 % of it. `False`: such a point is an error naming its line.

    The result knows `total_length` (µm) and `area` (µm²) and labels each branch with
    its SWC type ("soma", "axon", "basal", "apical", or "type<k>").

    Raises `ValueError` naming the line for: a line that is not text (a binary file),
    a line that is not 7 numbers, a repeated or
    non-positive id, a parent id not defined earlier in the file, several roots (or none),
    a radius ≤ 0, a zero-length segment. Never a silently different cell.
    """
    if isinstance(nseg, bool) or not isinstance(nseg, (int, np.integer)) or nseg < 1:
        raise ValueError(f"read_swc: nseg must be an int >= 1, got {nseg!r}.")
    if min_radius is not None and not (
        not isinstance(min_radius, (bool, str, bytes))
        and np.ndim(min_radius) == 0
        and np.isfinite(min_radius)
        and min_radius > 0
    ):
        raise ValueError(
            f"read_swc: min_radius must be a radius > 0 µm or None, got {min_radius!r}."
        )
    if not isinstance(path, (str, os.PathLike)):
        # open(3) would read file descriptor 3, not a file named "3"
        raise TypeError(f"read_swc: path must be a file name (str or Path), got {path!r}.")
    if os.path.isdir(path):
        raise ValueError(f"read_swc: {os.fspath(path)!r} is a directory; give the .swc file.")
    ids, types, xyz, radius, parents, lines = [], [], [], [], [], []
    index = {}
    with open(path, "rb") as f:
        for lineno, data in enumerate(f, start=1):
            try:
                raw = data.decode("utf-8")
                if "\x00" in raw:
                    raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
            except UnicodeDecodeError:
                raise _fail(
                    path,
                    lineno,
                    repr(data[:40])[2:-1],
                    "the line is not text (UTF-8): this is not an SWC file",
                    "Check the path: an SWC file is plain text, one point per line.",
                ) from None
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 7:
                raise _fail(
                    path,
                    lineno,
                    raw,
                    f"expected 7 fields (id type x y z radius parent), got {len(fields)}",
                    "Fix or delete the line.",
                )
            try:
                nums = [float(v) for v in fields]
            except ValueError:
                raise _fail(
                    path, lineno, raw, "a field is not a number", "Fix or delete the line."
                ) from None
            if not all(np.isfinite(nums)):
                raise _fail(path, lineno, raw, "a field is not finite", "Fix the line.")
            i, t, p = nums[0], nums[1], nums[6]
            if i != int(i) or t != int(t) or p != int(p) or i < 1:
                raise _fail(
                    path,
                    lineno,
                    raw,
                    "id, type and parent must be integers, id >= 1",
                    "Fix the line.",
                )
            i, t, p = int(i), int(t), int(p)
            if i in index:
                raise _fail(
                    path,
                    lineno,
                    raw,
                    f"id {i} is repeated (first on line {lines[index[i]]})",
                    "Give every point its own id.",
                )
            if p != -1 and p not in index:
                raise _fail(
                    path,
                    lineno,
                    raw,
                    f"parent id {p} is not defined on an earlier line",
                    "SWC lists every parent before its children; fix the "
                    "parent id or reorder the file.",
                )
            if p == -1 and parents:
                roots = [lines[k] for k in range(len(parents)) if parents[k] == -1]
                raise _fail(
                    path,
                    lineno,
                    raw,
                    f"a second root (parent -1; the first is on line {roots[0]})",
                    "A cell is one tree: connect this point to "
                    "its parent, or split the file into one file per cell.",
                )
            if not parents and p != -1:
                raise _fail(
                    path,
                    lineno,
                    raw,
                    "the first point must be the root (parent -1)",
                    "Put the root point first.",
                )
            r = nums[5]
            if not r > 0:
                if min_radius is None:
                    raise _fail(
                        path,
                        lineno,
                        raw,
                        f"radius {r} µm is not positive",
                        "Fix the radius, or read with read_swc(..., min_radius=r) to "
                        "raise small radii to r µm.",
                    )
            if min_radius is not None:
                r = max(r, float(min_radius))
            index[i] = len(ids)
            ids.append(i)
            types.append(t)
            xyz.append(nums[2:5])
            radius.append(r)
            parents.append(-1 if p == -1 else index[p])
            lines.append(lineno)
    if not ids:
        raise ValueError(f"{os.fspath(path)} has no points.")
    xyz = np.array(xyz)
    radius = np.array(radius)
    parents = np.array(parents)
    types = np.array(types)

    # zero-length segments
    keep = np.ones(len(ids), bool)
    if _neuromorpho_three_point_soma(xyz, radius, types, parents):
        # NEURON's neuromorph_3point_soma (read_swc.hoc): the soma is the root point alone,
        # a sphere (one-point soma below), its two outline points dropped. Read as two soma
        # branches before, the soma was split at its centre into two compartments, the
        # dendrites hung at its x=0 end, and distances from (0, 0.5) were r/2 too long.
        keep[1:3] = False
    for k in range(1, len(ids)):
        if np.all(xyz[k] == xyz[parents[k]]):
            if not merge_zero_length:
                raise ValueError(
                    f"{os.fspath(path)}, line {lines[k]}: point {ids[k]} lies at the same place "
                    f"as its parent {ids[parents[k]]} (a zero-length segment). Fix the "
                    "coordinates, or read with read_swc(..., merge_zero_length=True) to drop "
                    "the point."
                )
            keep[k] = False
    if not keep.all():
        # re-attach children of dropped points to the nearest kept ancestor
        anc = np.arange(len(ids))
        for k in range(len(ids)):
            if not keep[k]:
                anc[k] = anc[parents[k]]
        parents = np.array([-1 if p < 0 else anc[p] for p in parents])
        new = np.cumsum(keep) - 1
        xyz, radius, types = xyz[keep], radius[keep], types[keep]
        parents = np.array([-1 if p < 0 else new[p] for p in parents[keep]])

    line_of = np.asarray(lines)[keep]
    try:
        return _build(xyz, radius, types, parents, nseg, line_of)
    except ValueError as e:  # a shape defect found while building: name the file
        sep = ", " if str(e).startswith("line ") else ": "
        raise ValueError(f"{os.fspath(path)}{sep}{e}") from None


def _neuromorpho_three_point_soma(xyz, radius, types, parents) -> bool:
    """NeuroMorpho.org's standard soma, which NEURON's Import3d reads as a sphere: exactly
    three soma points in the file, the second and third children of the first (the root)
    and parents of no point, all three of one diameter, their distances from the root
    summing to that diameter within 1 %."""
    if len(types) < 3 or np.count_nonzero(types == 1) != 3 or not np.all(types[:3] == 1):
        return False
    if parents[1] != 0 or parents[2] != 0 or np.any(np.isin(parents[3:], (1, 2))):
        return False
    if not (radius[1] == radius[0] and radius[2] == radius[0]):
        return False
    length = np.linalg.norm(xyz[1] - xyz[0]) + np.linalg.norm(xyz[2] - xyz[0])
    return bool(abs(length / (2 * radius[0]) - 1) < 0.01)


def _type_name(t):
    return SWC_TYPES.get(int(t), f"type{int(t)}")


def _build(xyz, radius, types, parents, nseg, line_of=None) -> Morphology:
    n = len(xyz)
    children = [[] for _ in range(n)]
    for k in range(1, n):
        children[parents[k]].append(k)
    soma = types == 1
    n_soma_nb = np.zeros(n, int)
    for k in range(1, n):
        if soma[k] and soma[parents[k]]:
            n_soma_nb[k] += 1
            n_soma_nb[parents[k]] += 1
    diam = 2 * radius
    branches: list[Branch] = []

    def run_from(k):
        """Points of the run starting at k: follow a single child of the same type, on
        the next line. A soma run also goes on past children of other types (they hang
        off its middle); any other run ends at a point with several children."""
        run = [k]
        while True:
            kids = children[run[-1]]
            same = [c for c in kids if types[c] == types[k]]
            if len(same) != 1 or same[0] != run[-1] + 1 or (len(kids) > 1 and not soma[k]):
                break
            run.append(same[0])
        return run

    def push_children(run, b):
        """Queue every child of the points of branch b's run that does not continue it."""
        items = []
        for j, k in enumerate(run):
            last = j == len(run) - 1
            # Import3d: the root's other children at 0, the rest of a soma's at 0.5
            x = 1.0 if last else (0.0 if (b == 0 and j == 0) else 0.5)
            for c in children[k]:
                if not last and c == run[j + 1]:
                    continue
                items.append((c, b, x, k))
        stack.extend(reversed(items))

    stack = []  # (first point, parent branch, parent_x, parent point)
    kids0 = children[0]
    if not kids0 and not soma[0]:
        raise ValueError("an SWC cell with a single point that is not a soma has no length.")
    # Import3d (read_swc.hoc, mark_branch + sectionify) makes the root point a section of
    # its own when its run ends at once: for a soma root, when point 1 (always a child of
    # the root) is not a soma point; for any other root, when the root's last child (its
    # highest id) has another type than the root — a later child of the root's own type
    # resets the root's child count, so the root runs on into point 1 whatever its type.
    if soma[0]:
        root_alone = n == 1 or not soma[1]
    else:
        root_alone = types[kids0[-1]] != types[0]
        if not root_alone and types[1] != types[0]:
            line = "" if line_of is None else f"line {line_of[1]}: "
            raise ValueError(
                f"{line}the root point (type {int(types[0])}) has its first child of type "
                f"{int(types[1])} but a later child of its own type, so NEURON's Import3d "
                f"reads root and child as one section of type {int(types[0])} (a soma point "
                "in it is lost as soma). Make a soma point the root (the usual SWC layout), "
                "or give the root point its first child's type."
            )
    if root_alone:
        # a one-point root: Import3d's sphere_rep, a cylinder of length = diameter = 2r
        # along x (membrane area 4πr², the sphere's), of the root's type
        r = radius[0]
        x, y, z = xyz[0]
        pts = [[x - r, y, z, 2 * r], [x, y, z, 2 * r], [x + r, y, z, 2 * r]]
        branches.append(branch_from_points(pts, nseg=nseg, type=_type_name(types[0])))
        for c in reversed(kids0):
            if soma[0] and not soma[c]:
                # a dendrite of a one-point soma hangs at its middle, joined by a wire to
                # its own first point; a one-point dendrite starts at the soma's centre
                stack.append((c, 0, 0.5, None if len(run_from(c)) > 1 else 0))
            else:
                # any other child of a one-point root attaches at its 0 end, from the
                # root point with the root's diameter
                stack.append((c, 0, 0.0, 0))
    else:
        run = [0] + run_from(kids0[0])
        branches.append(
            _branch(run, None, xyz, diam, types, soma, n_soma_nb, -1, 1.0, nseg, line_of)
        )
        push_children(run, 0)
    while stack:
        k, pb, px, pp = stack.pop()
        run = run_from(k)
        b = len(branches)
        branches.append(_branch(run, pp, xyz, diam, types, soma, n_soma_nb, pb, px, nseg, line_of))
        push_children(run, b)
    return Morphology(branches)


def _branch(
    run, parent_point, xyz, diam, types, soma, n_soma_nb, pb, px, nseg, line_of=None
) -> Branch:
    pts = [[*xyz[k], diam[k]] for k in run]
    if parent_point is not None:
        if not soma[parent_point]:
            pts.insert(0, [*xyz[parent_point], diam[parent_point]])
        elif n_soma_nb[parent_point] < 2 or soma[run[0]] or len(run) == 1:
            # after a soma point the child keeps its own diameter; a one-point child of
            # a somatic branch point is joined to it directly (Import3d: "single point
            # means direct connection to interior"), not by a wire
            d0 = diam[parent_point] if soma[run[0]] else diam[run[0]]
            pts.insert(0, [*xyz[parent_point], d0])
    if len(pts) < 2:
        line = "" if line_of is None else f"line {line_of[run[0]]}: "
        raise ValueError(
            f"{line}SWC point at {xyz[run[0]]} makes a branch of one point with no parent "
            "point to start from (a bug in read_swc: please report it with the file)."
        )
    return branch_from_points(
        pts, parent=pb, parent_x=px, nseg=nseg, type=_type_name(types[run[0]])
    )
