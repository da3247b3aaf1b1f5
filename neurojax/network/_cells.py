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

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ..cable import Cell
from ..solvers._tree_solve import TreeTopology
from ..synapses import AbstractSynapse

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
        for name, cell, size in zip(self.names, cells, self.sizes, strict=True):
            if cell.geometry.blocks is not None:  # was the tree solve's "parent[2] = 29 ..."
                raise ValueError(
                    f"population {name!r}: a Cell built with node_order='chain_blocks' cannot "
                    "join a network (the forest of cells is numbered root-outwards): build "
                    "it with node_order='tree' (the default)."
                )
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


class PendingEvents(NamedTuple):
    w: Array  # summed event weights waiting for the next step's NET_RECEIVE


class PointProcessTarget(AbstractSynapse):
    """A projection's (or drive's) synapse that is one of the target cell's own point
    processes: `index` counts the cell's point processes that take events (NMODL's
    NET_RECEIVE, e.g. NEURON's `expsyn.mod` loaded by `neurojax.nmodl.load_mod`), in
    `Cell(point_processes=...)` order. The weights arriving at the end of a step are
    given to that point process as its `"events"` input at the start of the next step
    (NEURON's delivery: NET_RECEIVE once with the summed weight), so a spike of step `s`
    with a delay of `d` steps reaches NET_RECEIVE at the start of step `s + d + 1`, as
    `NetCon` delivers it. The site is the point process's own; the weight's unit is
    NET_RECEIVE's (µS for `ExpSyn`). Only for `cable.Cell` populations."""

    index: int = eqx.field(static=True, default=0)

    def __check_init__(self):
        if (
            isinstance(self.index, bool)
            or not isinstance(self.index, (int, np.integer))
            or self.index < 0
        ):
            raise ValueError(
                f"PointProcessTarget index must be an int >= 0 (the n-th point process "
                f"of the cell that takes events), got {self.index!r}."
            )

    def init(self, shape=()):
        return PendingEvents(w=jnp.zeros(shape, jnp.result_type(float)))

    def vector_field(self, state, v):
        return PendingEvents(w=jnp.zeros_like(state.w))

    def on_arrival(self, state, x, dt):
        return PendingEvents(w=state.w + x)

    def current(self, state, v):
        return jnp.zeros_like(state.w)  # the cell's point process carries the current


def receiver_column(cell: Cell, target: PointProcessTarget, what: str) -> int:
    """The column of `cell`'s `"events"` input for `target`, or a clear error."""
    n = len(cell.geometry.receivers)
    if target.index >= n:
        raise ValueError(
            f"{what}: PointProcessTarget(index={target.index}), but the cell has {n} point "
            "process(es) taking events (NET_RECEIVE); index counts those, in "
            "Cell(point_processes=...) order."
        )
    return int(target.index)


def with_events(cell: Cell, x):
    """A Cell population's inputs completed with zero `"events"` (the weights of its
    point processes that take events) when the user gave none: the network fills them
    from `PointProcessTarget` projections."""
    n_recv = len(cell.geometry.receivers)
    if n_recv == 0 or (isinstance(x, dict) and "events" in x):
        return x
    if not isinstance(x, dict):
        x = {"i_clamp": x}
    leaves = [a for a in x.values()]
    batch = tuple(jnp.shape(leaves[0])[:-1]) if leaves else ()
    return {**x, "events": jnp.zeros((*batch, n_recv), jnp.result_type(float))}
