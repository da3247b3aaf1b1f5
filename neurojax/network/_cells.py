"""Morphologically detailed `neurojax.cable.Cell`s as populations of a `Network`.

A population of `size` identical cells is the cell with a batch axis `(size, n_nodes)`.
All the cells of all the `Cell` populations are solved together as one *forest*: their
node vectors are concatenated and each cell's root is hung below a membrane node of an
earlier cell with a coupling of exactly zero, so one tree solve (the implicit solvers'
`TreeSolve`, O(nodes)) is the block-diagonal solve of every cell at once — no coupling is
introduced (the zero off-diagonal entries add nothing in the elimination). Cells are
attached four to a parent cell, so the forest's height grows as `log₄(cells)` rather
than with the number of cells.

The network gives the solvers the `Tree` contract (`linearise` → one
`TreeLinearisation`, `advance_gates`), built from each cell's own `linearise` /
`advance_gates` (the public cable contract) plus the network's synapses: a synapse at
node `m` adds its current `I(V_m)` (nA, depolarising positive) to `F` and `−∂I/∂V` (µS,
by a JVP) to `M`'s diagonal, so its conductance is implicit with the membrane (as
NEURON's `ExpSyn` in its matrix). Synaptic states then advance over the step at the new
voltages by exponential Euler (exact for the linear kinetics: `ExpSyn`'s `cnexp`).

Spikes are NEURON's `NetCon` rule at a node (the soma's centre by default): a spike in
the step whose end voltage is above `threshold` (−10 mV by default) when the voltage at
the end of the previous step was not (an upward crossing).
"""

from __future__ import annotations

import numpy as np

from ..cable import Cell
from ..solvers._tree_solve import TreeTopology

# NEURON's NetCon default threshold (mV).
DEFAULT_THRESHOLD = -10.0
# How many cells hang below each earlier cell in the forest (see the module docstring).
_FAN = 4


def is_cell(neuron) -> bool:
    """A morphologically detailed `neurojax.cable.Cell` (a `Tree` model)."""
    return isinstance(neuron, Cell)


def site_node(cell: Cell, site, what: str) -> int:
    """The node of `site = (branch, x)` on `cell`, or a `ValueError` naming `what`."""
    if (
        isinstance(site, (str, bytes))
        or not hasattr(site, "__len__")
        or len(site) != 2
        or any(isinstance(s, (str, bytes)) for s in site)
    ):
        raise ValueError(
            f"{what}: site must be (branch, x) — a branch index of the cell and a position "
            f"0 <= x <= 1 along it, e.g. (1, 0.5); got {site!r}."
        )
    try:
        return int(cell.node(site[0], site[1]))
    except (ValueError, TypeError) as e:
        raise type(e)(f"{what}: site {tuple(site)!r}: {e}") from None


class CellLayout:
    """Static plan of the forest: for each `Cell` population its offset into the
    concatenated node vector, its size and node count; the forest's `TreeTopology` and
    its algebraic (membrane-less) node mask. Compared by content (it sits in a static
    field: jit caches on it)."""

    def __init__(self, names, sizes, cells):
        self.names = tuple(names)
        self.sizes = tuple(int(s) for s in sizes)
        self.n_nodes = tuple(int(c.n_nodes) for c in cells)
        parents, algebraic, offsets = [], [], []
        anchors = []  # the global node each cell offers to the cells hung below it
        offset = 0
        for cell, size in zip(cells, self.sizes, strict=True):
            disc = cell.discretisation
            parent = np.asarray(disc.parent, dtype=np.int64)
            membrane = np.asarray(disc.area) > 0
            if not membrane.any():
                raise ValueError("a Cell population needs cells with membrane.")
            anchor = int(np.argmax(membrane))  # the first membrane node
            offsets.append(offset)
            n = parent.size
            for j in range(size):
                base = offset + j * n
                p = np.where(parent < 0, -1, parent + base)
                k = len(anchors)
                if k > 0:  # hang the root below an earlier cell's anchor (zero coupling)
                    p[0] = anchors[(k - 1) // _FAN]
                parents.append(p)
                algebraic.append(~membrane)
                anchors.append(base + anchor)
            offset += size * n
        self.offsets = tuple(offsets)
        self.total = offset
        self.parent = np.concatenate(parents) if parents else np.zeros(0, np.int64)
        self.algebraic = np.concatenate(algebraic) if algebraic else np.zeros(0, bool)
        self.topology = TreeTopology(self.parent) if offset else None

    def _key(self):
        return (self.names, self.sizes, self.n_nodes, self.parent.tobytes())

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return isinstance(other, CellLayout) and self._key() == other._key()

    def split(self, x):
        """The forest vector `(total,)` → one `(size, n_nodes)` block per population."""
        out = {}
        for name, off, size, n in zip(
            self.names, self.offsets, self.sizes, self.n_nodes, strict=True
        ):
            out[name] = x[off : off + size * n].reshape(size, n)
        return out


def crossing(v_old, v_new, threshold):
    """NEURON's `NetCon` spike rule on the voltages at the end of two consecutive steps:
    1 where `v_new > threshold >= v_old` (an upward crossing), else 0; surrogate
    gradients through `v_new` (`FastSigmoid`), none through the crossing's condition."""
    import jax

    from ..surrogate import FastSigmoid

    x = v_new - threshold
    above = FastSigmoid()(x) * (x != 0)  # strict `>`, as NEURON's `v > thresh`
    return above * jax.lax.stop_gradient((v_old <= threshold).astype(x.dtype))
