"""Drawing a morphology, optionally coloured by a value per compartment (e.g. voltage)."""

from __future__ import annotations

import numpy as np

from ._morphology import Discretisation, Morphology


def _layout(morph: Morphology) -> list[np.ndarray]:
    """x, y, diameter points of every branch: the 3-d points projected on x–y where the
    morphology has them (SWC), else a planar dendrogram of straight cylinders."""
    out, ends = [], []
    for b, br in enumerate(morph.branches):
        if br.points is not None:
            pts = br.points[:, [0, 1, 3]]
        else:
            if br.parent < 0:
                start, angle = np.zeros(2), 0.0
            else:
                pstart, pend, pangle = ends[br.parent]
                start = pstart + br.parent_x * (pend - pstart)
                n_sib = sum(1 for c in morph.branches if c.parent == br.parent)
                k = sum(1 for c in morph.branches[:b] if c.parent == br.parent)
                angle = pangle + (k - (n_sib - 1) / 2) * 0.6 if n_sib > 1 else pangle
            end = start + br.length * np.array([np.cos(angle), np.sin(angle)])
            ends.append((start, end, angle))
            pts = np.array([[*start, br.diameter], [*end, br.diameter]])
        if br.points is not None:
            ends.append((pts[0, :2], pts[-1, :2], 0.0))
        out.append(pts)
    return out


def plot_morphology(
    cell_or_morphology,
    values=None,
    *,
    ax=None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    linewidth_scale: float = 1.0,
    colorbar_label: str = "V (mV)",
):
    """Draw a morphology (x–y projection; µm), each segment coloured by `values`.

    - `cell_or_morphology`: a `Cell` or a `Morphology`.
    - `values`: one number per node of the discretisation (e.g. a row of `sol.v`), in
      the cell's node order (pass the `Cell` for a `node_order="chain_blocks"` cell), or
      `None` for a plain drawing.

    Line widths follow the diameters (`linewidth_scale` × √d, so thin dendrites stay
    visible). Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    morph = getattr(cell_or_morphology, "morphology", cell_or_morphology)
    if not isinstance(morph, Morphology):
        raise TypeError(
            f"expected a Cell or a Morphology, got {type(cell_or_morphology).__name__}."
        )
    # a Cell's own numbering (a "chain_blocks" cell's V is in block order: coloured by the
    # root-outwards numbering, its nodes were drawn at other nodes' places)
    disc = None
    if values is not None:
        disc = getattr(cell_or_morphology, "discretisation", None)
        disc = Discretisation(morph) if disc is None else disc
    if values is not None:
        values = np.asarray(values)
        if values.shape != (disc.n_nodes,):
            raise ValueError(
                f"values must have one number per node ({disc.n_nodes},), got {values.shape}; "
                "pass one time step of sol.v."
            )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    segs, colours, widths = [], [], []
    for b, (br, pts) in enumerate(zip(morph.branches, _layout(morph), strict=True)):
        xy, d = pts[:, :2], pts[:, 2]
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
        # cut the polyline at segment boundaries so that each piece has one colour
        total = arc[-1] if arc[-1] > 0 else 1.0
        cuts = np.unique(np.concatenate([arc, np.linspace(0, total, br.nseg + 1)]))
        px = np.interp(cuts, arc, xy[:, 0])
        py = np.interp(cuts, arc, xy[:, 1])
        pd = np.interp(cuts, arc, d)
        for k in range(len(cuts) - 1):
            segs.append([(px[k], py[k]), (px[k + 1], py[k + 1])])
            widths.append(linewidth_scale * np.sqrt(max(pd[k], 1e-3)))
            if values is not None:
                mid = (cuts[k] + cuts[k + 1]) / 2 / total
                colours.append(values[disc.centres[b][min(int(mid * br.nseg), br.nseg - 1)]])
    lc = LineCollection(segs, linewidths=widths, capstyle="round")
    if values is not None:
        lc.set_array(np.asarray(colours))
        lc.set_cmap(cmap)
        lc.set_clim(
            vmin if vmin is not None else np.min(colours),
            vmax if vmax is not None else np.max(colours),
        )
        ax.figure.colorbar(lc, ax=ax, label=colorbar_label, shrink=0.7)
    else:
        lc.set_color("k")
    ax.add_collection(lc)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    return ax
