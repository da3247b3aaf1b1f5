"""A `Cell` in chain-block order (`Cell(..., node_order="chain_blocks")`): its nodes renumbered so
that each group of equal-length unbranched chains of the tree solve
(`TreeTopology.chain_layout`) is a row-major `(length, chains)` block — row r holds every
chain's r-th node (`solvers._tree_solve.BlockTopology`).

In that order the step's index maps become slices (benchmarks/README.md, "Cable cells",
session 14): a node's parent is the row above and its only child the row below, except
the chains' tops (the first row: their parents are other chains' bottoms) and bottoms
(the last row: their children are other chains' tops), which take one small gather of
one value per chain each (`BlockAxial`); the membrane of a tree of equal branches (each
branch's compartments, then its membrane-less end node) is one contiguous run (the
mechanisms' take a slice, their put a zero pad: `_node_maps`); the tree solve reads its
rows as slices and returns the block itself (`_tree_solve._solve_blocks`). The same
arithmetic as in the root-outwards numbering, in another order: float64 results equal to
rounding (`tests/test_cable_blocks_s14.py`).

`BlockDiscretisation` is the cell's `Discretisation` in that order: every per-node array
permuted, `node(branch, x)` and the branch tables mapped, `topology` the `BlockTopology`.
Its `parent[i] < i` does not hold (a top hangs from a later row)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._gather import StaticMap
from .._gather import apply as gather_apply
from ..solvers._tree_solve import BlockTopology


class BlockDiscretisation:
    """`disc` renumbered in chain-block order (`topology.perm`: new position → old node;
    `topology.inv`: old node → new position). Same fields and methods as a
    `Discretisation`; `original` is `disc`."""

    def __init__(self, disc, topology: BlockTopology):
        perm, inv = np.asarray(topology.perm), np.asarray(topology.inv)
        self.original = disc
        self.morphology = disc.morphology
        self.topology = topology
        self.parent = np.asarray(topology.parent)
        self.area = disc.area[perm]
        self.r_per_ra = disc.r_per_ra[perm]
        self.branch = disc.branch[perm]
        self.x = disc.x[perm]
        self.membrane = np.sort(inv[disc.membrane])
        self.start = [int(inv[s]) for s in disc.start]
        self.centres = [[int(inv[c]) for c in cs] for cs in disc.centres]
        self.end = [int(inv[e]) for e in disc.end]

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    def node(self, branch: int, x: float) -> int:
        """`Discretisation.node`, in block order."""
        return int(self.topology.inv[self.original.node(branch, x)])

    def region_to_blocks(self, channel, nodes):
        """`channel` with its per-compartment leaves (one value per node of its region
        `nodes`, block numbering, ascending) given in the root-outwards order — the order of
        `Morphology.distances(where)` and of a `"tree"` cell's region — put in the order of
        `nodes`. Scalars are kept. (Session 15: they were taken in block order, so a
        distance-graded conductance landed on other compartments without a word.)"""
        import equinox as eqx

        rank = np.argsort(np.argsort(np.asarray(self.topology.perm)[nodes]))
        names = [
            n for n in channel.__dataclass_fields__
            if eqx.is_array(getattr(channel, n)) and jnp.ndim(getattr(channel, n)) == 1
        ]  # fmt: skip
        if not names:
            return channel
        return eqx.tree_at(
            lambda c: [getattr(c, n) for n in names],
            channel,
            [getattr(channel, n)[rank] for n in names],
        )

    def diameters(self) -> np.ndarray:
        return self.original.diameters()[self.topology.perm]

    def path_distances(self, origin=(0, 0.5)) -> np.ndarray:
        return self.original.path_distances(origin)[self.topology.perm]

    def __getattr__(self, name):  # anything else a Discretisation has, per node: permuted
        got = getattr(self.original, name)
        if callable(got):
            raise AttributeError(
                f"BlockDiscretisation has no {name!r} in block order; use .original (the "
                "root-outwards numbering) and map nodes with .topology.inv."
            )
        if isinstance(got, np.ndarray) and got.shape[:1] == (self.n_nodes,):
            return got[self.topology.perm]
        return got


def block_discretisation(disc):
    """`disc` in chain-block order, or None where the tree solve would not run
    `"branches"` on it (`BlockTopology.of`)."""
    topo = BlockTopology.of(disc.topology)
    return None if topo is None else BlockDiscretisation(disc, topo)


class BlockAxial:
    """The axial current `Σ_j g_ij (V_j − V_i)` in chain-block order by slices: `flow_i =
    g_i (V_parent − V_i)`, the parent's V the row above (the tops': `top_parent`, one
    gather of one value per chain), the children's flow the row below (the bottoms':
    `kids`, the sum of their child tops' flows, one gather per chain). Static (numpy)."""

    def __init__(self, topology: BlockTopology):
        lay = topology.chain_layout
        parent = np.asarray(topology.parent)
        n = topology.n
        self.groups = [tuple(int(v) for v in g) for g in lay.groups]
        tops = np.asarray(topology.tops)
        bots = np.asarray(topology.bottoms)
        c = tops.size
        has = parent[tops] >= 0
        self.has_top_parent = has
        # V at each top's parent (0 where it has none: the root's chain)
        self.top_parent = StaticMap(np.nonzero(has)[0], parent[tops[has]], c, n)
        chain_of_bottom = np.full(n, -1, np.int64)
        chain_of_bottom[bots] = np.arange(c)
        rows = chain_of_bottom[parent[tops[has]]]
        if (rows < 0).any():  # cannot happen: a top hangs from a chain's bottom
            raise AssertionError("a chain's top hangs from a node that is no chain's bottom")
        # each bottom's sum over its child tops (in ascending order, as `over_children`)
        self.kids = StaticMap(rows, np.nonzero(has)[0], c, c)
        self.n, self.c = n, c

    def of_parent(self, x):
        """`x[parent]` (0 at the root)."""
        xt = gather_apply(self.top_parent, x)
        parts, at = [], 0
        for s, _c0, m, L in self.groups:
            parts.append(xt[..., at : at + m])
            if L > 1:
                parts.append(x[..., s : s + (L - 1) * m])
            at += m
        return _cat(parts)

    def over_children(self, f):
        """`Σ_children f` per node."""
        tops = _cat([f[..., s : s + m] for s, _c0, m, _L in self.groups])
        kid = gather_apply(self.kids, tops)
        parts, at = [], 0
        for s, _c0, m, L in self.groups:
            if L > 1:
                parts.append(f[..., s + m : s + L * m])  # rows 1..L−1 feed rows 0..L−2
            parts.append(kid[..., at : at + m])
            at += m
        return _cat(parts)

    def current(self, v, g_ax):
        """`Σ_j g_ij (V_j − V_i)` per node, nA (`Cell._axial_current`)."""
        flow = g_ax * (self.of_parent(v) - v)
        return flow - self.over_children(flow)


def _cat(parts):
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)


__all__ = ["BlockAxial", "BlockDiscretisation", "block_discretisation"]
