"""Exact O(N) solve of a tree-structured linear system (Hines 1984), with an O(N) gradient.

The matrix `M` (N × N) of a cable on a tree has, with compartments numbered so that
`parent[i] < i` (the root is compartment 0, `parent[0] = -1`):

- `M[i, i] = d[i]`,
- `M[i, parent[i]] = b[i]` (row i, the parent's column),
- `M[parent[i], i] = a[i]` (the parent's row, column i),

and zeros elsewhere. Gaussian elimination from the leaves towards the root never fills
in (Hines 1984), so the solve costs O(N). Three schedules of the same elimination
(`tree_solve(..., method=...)`):

- `"branches"` (the default on CPU): branch-parallel. Every unbranched run of
  consecutively numbered compartments (a *chain*: a cable's branch) has its interior
  eliminated at once, all chains together, as rows of a `(chain length, chains)` array,
  leaving a small tree of the chains' ends (2 per chain), solved by `"hines"`, then the
  interiors back-substituted at once (Jaxley's / dendritic hierarchical scheduling's
  idea). Chains are read as slices of the node arrays (cut to one common length),
  never gathered. A batch, or a tree whose chains fall into more than
  `_BRANCH_MAX_GROUPS` runs of equal length (irregular morphologies), runs `"hines"`,
  which measured as fast or faster there. Measured (one cell, float32, CPU time,
  `bench_cable.py --tool solve`): 1.9×, 2.0×, 1.8× faster than `"hines"` at 551, 2201
  and 11001 nodes (benchmarks/results/cable_tree_solve_branches.md); the whole
  backward-Euler step of the 2000-compartment HH tree 1.3× faster.
- `"hines"`: one compiled loop per sweep, compartment by compartment
  in the original numbering — the elimination from N − 1 down to 1 (each compartment into
  its parent), the back-substitution from 1 up to N − 1. The fewest operations, no
  padding, no gathers; 2(N − 1) short sequential steps, each bound by the latency of one
  division and a few multiply-adds. A batch (or a `vmap`: its rule maps the batch to a
  trailing axis) rides along as a contiguous row per step.
- `"levels"` (the default on accelerators): compartments at the same *height* (distance
  to their farthest leaf) are independent, both in the elimination (each needs only its
  children, which are lower) and in the back-substitution (each needs only its parent,
  which is higher). The compartments are renumbered by decreasing height, so that every
  level is a contiguous block: two `lax.scan`s over the levels, each step a slice of the
  block and a gather from its children (or parents) — no scatters. `2 × height`
  sequential steps, not 2N, but each costs a gather of a whole level: on a CPU it
  measured 1.4–4.4× slower than `"hines"` for one cell (551–11001 nodes) and far slower
  for a batch (benchmarks/README.md, "Cable cells").

Derivatives go through `jax.lax.custom_linear_solve`: the cotangent of `x = M⁻¹ r` is
`λ = M⁻ᵀ x̄`, one more tree solve with `a` and `b` swapped (`Mᵀ` has the same tree), and
the cotangents of the matrix entries are `−λ xᵀ` restricted to the tree's nonzeros (from
the O(N) product `M x`). Forward mode works too (`ẋ = M⁻¹(ṙ − Ṁx)`). Backpropagating
through the elimination loop instead would store every intermediate pivot (Jaxley's
gradient grew as N² until it did this).

Reference: M. Hines (1984) Efficient computation of branched nerve equations.
Int J Biomed Comput 15:69–76.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._gather import StaticMap, apply


class TreeTopology:
    """The static part of a tree system: the parent array and the level schedules.

    Built once in numpy from `parent` (`parent[0] = -1`, `parent[i] < i` otherwise).
    Hashable by content, so it can live in a static field of an equinox module and jit
    caches on it.

    - `perm`, `inv`: the renumbering by decreasing height and its inverse;
    - `children`: `(size, max children)` table in the new numbering, padded with the dummy;
    - `up`, `down`: `(levels, 2)` start and length of each height block, in the order
      of the elimination and of the back-substitution.
    """

    def __init__(self, parent):
        parent = np.asarray(parent, dtype=np.int64)
        if parent.ndim != 1 or parent.size == 0:
            raise ValueError(f"parent must be a non-empty 1-d array, got shape {parent.shape}.")
        n = parent.size
        if parent[0] != -1:
            raise ValueError(f"parent[0] must be -1 (compartment 0 is the root), got {parent[0]}.")
        bad = np.nonzero((parent[1:] < 0) | (parent[1:] >= np.arange(1, n)))[0]
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(
                f"parent[{i}] = {parent[i]} breaks the numbering: every compartment i > 0 "
                "needs 0 <= parent[i] < i (number the tree from the root outwards)."
            )
        self.parent = parent
        self.n = n
        # the parent of each compartment with the root's -1 replaced by 0 (never read)
        self.parent_or_root = np.where(parent < 0, 0, parent).astype(np.int32)
        # Height: 0 at leaves, 1 + max over children otherwise. Children have larger
        # indices: one sweep from the end.
        height = np.zeros(n, dtype=np.int64)
        for i in range(n - 1, 0, -1):
            height[parent[i]] = max(height[parent[i]], height[i] + 1)
        # Renumber by decreasing height (the root, highest, first): parents still come
        # before children, and each height is a contiguous block [start, end).
        order = np.lexsort((np.arange(n), -height))
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        hs = height[order]
        top = int(hs[0])
        start = np.searchsorted(-hs, -np.arange(top + 1), side="left")
        end = np.searchsorted(-hs, -np.arange(top + 1), side="right")
        width = int(np.max(end - start))
        self.height = top
        self.width = width
        self.perm = order.astype(np.int32)  # new index → old
        self.inv = pos.astype(np.int32)  # old index → new
        # Padded length: a window of `width` from any level start stays in bounds, and
        # slot `size` is a dummy (d = 1, zero couplings) that padded lanes point to.
        size = n + width
        self.size = size
        new_parent = np.full(size, size, dtype=np.int64)
        new_parent[1:n] = pos[parent[order[1:]]]
        kids = [[] for _ in range(n)]
        for i in range(1, n):
            kids[new_parent[i]].append(i)
        k = max(1, max(len(c) for c in kids))
        children = np.full((size, k), size, dtype=np.int32)
        for i, c in enumerate(kids):
            children[i, : len(c)] = c
        self.children = children
        self.new_parent = new_parent.astype(np.int32)
        # elimination: heights 1..top (leaves have nothing to eliminate)
        self.up = np.stack([start[1:], end[1:] - start[1:]], axis=1).astype(np.int32)
        # back-substitution: heights top−1..0 (the root is solved directly)
        self.down = np.stack([start[:-1][::-1], (end - start)[:-1][::-1]], axis=1).astype(np.int32)
        # children in the original numbering `(n, k)`, padded with n: `TreeOperator.mv`
        # sums over children by a gather (XLA runs scatters serially on CPU)
        mine = [[] for _ in range(n)]
        for i in range(1, n):
            mine[parent[i]].append(i)
        own = np.full((n, max(1, max(len(c) for c in mine))), n, dtype=np.int32)
        for i, c in enumerate(mine):
            own[i, : len(c)] = c
        self.children_of = own
        # `x[parent]` and the sum over children as `StaticMap`s (each the other's
        # transpose; gathers both ways: `neurojax._gather`)
        kids = np.arange(1, n)
        self.of_parent = StaticMap(kids, parent[1:], n, n)
        self.over_children = StaticMap(parent[1:], kids, n, n)
        self._key = parent.tobytes()

    @functools.cached_property
    def chain_layout(self) -> "_ChainLayout":
        """The unbranched runs and the reduced tree of `method="branches"` (built on
        first use)."""
        return _ChainLayout(self.parent)

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, TreeTopology) and self._key == other._key

    def __repr__(self):
        return f"TreeTopology(n={self.n}, height={self.height}, width={self.width})"


class BlockTopology(TreeTopology):
    """A tree numbered in *chain-block order*: the nodes of each group of equal-length
    chains of `base.chain_layout` (`_ChainLayout`) stored row-major as a `(length,
    chains)` block — position `s + r·m + j` holds chain j's r-th node (`s` the group's
    first node, `m` its chains) — instead of chain by chain. The groups tile the same
    ranges, the root stays at 0, and every chain's top is the group's first row, its
    bottom the last row, its interior the rows between: in this order `"branches"`
    reads the rows as contiguous slices (no transpose), and a cell's state can be laid
    out the same way (`neurojax.cable._blocks`), so that a node's parent and child are
    the rows above and below (slices) and the membrane of a tree of equal branches is
    one contiguous run.

    - `base`: the `TreeTopology` in the root-outwards numbering (`parent[i] < i`);
    - `perm` (block position → base node), `inv` (base node → block position);
    - `parent`: the parents in block order (`parent[i] < i` does not hold: a chain's top
      hangs from another chain's bottom, a later row).

    `tree_solve` takes arrays in block order: one cell by `"branches"` in block order
    (`_solve_blocks`), anything else (a batch, `"hines"`, `"levels"`) by permuting to the
    base numbering and back (two gathers). Built by `BlockTopology.of(base)`, which
    returns None where `"branches"` would run `"hines"` (too few interior rows, more than
    `_BRANCH_MAX_GROUPS` groups)."""

    def __init__(self, base: TreeTopology):  # noqa: D107 (no TreeTopology checks: not root-outwards)
        lay = base.chain_layout
        n = base.n
        perm = np.empty(n, np.int64)
        for s, _c0, m, L in lay.groups:
            j, r = np.meshgrid(np.arange(m), np.arange(L))  # (L, m): row r, chain j
            perm[s : s + m * L] = (s + j * L + r).ravel()
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        bp = base.parent[perm]
        parent = np.where(bp >= 0, inv[np.maximum(bp, 0)], -1)
        self.base, self.perm, self.inv = base, perm.astype(np.int32), inv.astype(np.int32)
        self.parent = parent
        self.n = n
        self.parent_or_root = np.where(parent < 0, 0, parent).astype(np.int32)
        kids = np.nonzero(parent >= 0)[0]
        self.of_parent = StaticMap(kids, parent[kids], n, n)
        self.over_children = StaticMap(parent[kids], kids, n, n)
        self.to_base = StaticMap.take(inv, n)  # block order → base numbering
        self.from_base = StaticMap.take(perm, n)  # and back
        self.height, self.width, self.size = base.height, base.width, base.size
        # the chains' tops and bottoms in block order, chain by chain (group by group)
        self.tops = np.concatenate([s + np.arange(m) for s, _, m, L in lay.groups])
        self.bottoms = np.concatenate([s + (L - 1) * m + np.arange(m) for s, _, m, L in lay.groups])
        self._key = b"blocks" + base._key

    @staticmethod
    def of(base: TreeTopology) -> "BlockTopology | None":
        """The block order of `base`, or None where `"branches"` would not run on it."""
        lay = base.chain_layout
        if lay.k < _BRANCH_MIN_ROWS or len(lay.groups) > _BRANCH_MAX_GROUPS or base.n < 2:
            return None
        return BlockTopology(base)

    @functools.cached_property
    def chain_layout(self) -> "_ChainLayout":
        return self.base.chain_layout

    def __repr__(self):
        return f"BlockTopology(n={self.n}, groups={len(self.base.chain_layout.groups)})"


class _ChainLayout:
    """The unbranched runs of a tree for `method="branches"`, in numpy (static).

    A *chain* is a run of consecutively numbered nodes `s, s + 1, …, s + L − 1`, each
    (after the first) the only child of the one before: its interior nodes (all but the
    first, the *top*, and the last, the *bottom*) have one child each and no other
    coupling. A cable's `Discretisation` numbers each branch's nodes consecutively, so
    the chains are its branches (and their unbranched continuations). Chains longer than
    the most common length `L₀` are cut into a head of `L mod L₀` nodes and pieces of
    `L₀` (every piece is a chain): fewer padded rows. Consecutive chains of one length
    form a *group* `(start, count, length)`, a contiguous slice of the node arrays that
    reshapes to `(count, length)`: the chains' rows are slices, never gathers (XLA:CPU
    gathers cost ~2 ns per element here, as much as the Hines loop's whole step).

    - `groups`: `[(first node, first chain, chains, length)]`, tiling `0 … n − 1`;
    - `k` (interior rows: the longest chain's length − 2), `c` (chains);
    - `fill_row` `(k, c)`: True at each chain's last interior row (coupled to its bottom);
    - `direct` `(c,)`: the chain is its top and bottom only (no fill-in: the bottom keeps
      its own coupling to the top);
    - `reduced_topology`: the tree of the chains' tops and bottoms, numbered group by
      group, chain by chain, top before bottom (one node for a chain of one node): a
      bottom's parent is its top, a top's parent the bottom it hangs from."""

    def __init__(self, parent):
        n = parent.size
        nkids = np.bincount(parent[1:], minlength=n)
        idx = np.arange(1, n)
        cont = (parent[1:] == idx - 1) & (nkids[:-1] == 1)  # node i continues i − 1's chain
        starts = np.concatenate([[0], idx[~cont]])
        lengths = np.diff(np.concatenate([starts, [n]]))
        vals, counts = np.unique(lengths, return_counts=True)
        cap = int(vals[counts == counts.max()].max())  # most common length (ties: longest)
        pieces = []
        for s, L in zip(starts.tolist(), lengths.tolist(), strict=True):
            if L > cap and L % cap:
                pieces.append((s, L % cap))
                s, L = s + L % cap, L - L % cap
            count = L // cap if L > cap else 1
            pieces += [(s + q * cap, min(L, cap)) for q in range(count)]
        groups = []
        for s, L in pieces:
            if groups and groups[-1][3] == L:
                g = groups[-1]
                groups[-1] = (g[0], g[1], g[2] + 1, L)
            else:
                groups.append((s, sum(g[2] for g in groups), 1, L))
        c = len(pieces)
        k = max(0, max(L for _, L in pieces) - 2)
        fill_row = np.zeros((k, c), bool)
        for j, (_, L) in enumerate(pieces):
            if L >= 3:
                fill_row[L - 3, j] = True
        # the reduced tree, in the order the solve lays it out
        red_nodes = [x for s, L in pieces for x in ((s, s + L - 1) if L > 1 else (s,))]
        pos = np.full(n, -1, np.int64)
        pos[red_nodes] = np.arange(len(red_nodes))
        red_parent = np.full(len(red_nodes), -1, np.int64)
        for s, L in pieces:
            if s:
                if pos[parent[s]] < 0:  # cannot happen: a top hangs from a bottom
                    raise AssertionError(f"node {s}'s parent {parent[s]} is no chain's bottom")
                red_parent[pos[s]] = pos[parent[s]]
            if L > 1:
                red_parent[pos[s + L - 1]] = pos[s]
        self.groups, self.k, self.c = groups, k, c
        self.n_reduced = len(red_nodes)
        self.fill_row = fill_row
        self.direct = np.array([L == 2 for _, L in pieces])
        self.reduced_topology = TreeTopology(red_parent)


def _solve_levels(topo: TreeTopology, idx, d, a, b, rhs):
    """Hines elimination and back-substitution by height levels (`method="levels"`), for
    arrays shaped `(N, *batch)` (node-major) in the original numbering; `a[0]`, `b[0]` are
    ignored."""
    n, size, w = topo.n, topo.size, topo.width
    dtype = jnp.result_type(d, a, b, rhs)
    batch = rhs.shape[1:]

    def renumber(x, fill):
        x = jnp.broadcast_to(x.astype(dtype), (n, *batch))[idx["perm"]]
        return jnp.concatenate([x, jnp.full((size + 1 - n, *batch), fill, dtype)])

    # The dummy slot and the padding have d = 1 and zero couplings: padded lanes compute
    # harmless zeros.
    root = jnp.arange(size + 1).reshape(-1, *([1] * len(batch))) == 0
    d = renumber(d, 1.0)
    a = jnp.where(root, 0.0, renumber(a, 0.0))
    b = jnp.where(root, 0.0, renumber(b, 0.0))
    rhs = renumber(rhs, 0.0)
    children = idx["children"]
    a_kids = a[children]  # (size, k, *batch): constant over the sweep, gathered once
    ab_kids = (a * b)[children]
    lanes = jnp.arange(w).reshape(-1, *([1] * len(batch)))

    def window(x, s):
        return jax.lax.dynamic_slice_in_dim(x, s, w)

    # d and rhs ride together as one (size + 1, 2, *batch) array: one gather per level
    dr = jnp.stack([d, rhs], axis=1)
    coef = jnp.stack([ab_kids, a_kids], axis=2)  # (size, k, 2, *batch)

    def eliminate(dr, level):
        s, m = level[0], level[1]
        kids = jax.lax.dynamic_slice_in_dim(children, s, w)  # (w, k)
        got = dr[kids]  # the children's eliminated rows: (w, k, 2, *batch)
        dk = got[:, :, :1]
        # d_i -= Σ a_c b_c / d_c;  rhs_i -= Σ a_c rhs_c / d_c
        num = jnp.concatenate([jnp.ones_like(dk), got[:, :, 1:]], axis=2)
        old = window(dr, s)
        new = old - jnp.sum(window(coef, s) * num / dk, axis=1)
        new = jnp.where(lanes[:, None] >= m, old, new)  # lanes past the level: unchanged
        return jax.lax.dynamic_update_slice_in_dim(dr, new, s, 0), None

    dr, _ = jax.lax.scan(eliminate, dr, idx["up"])
    d, rhs = dr[:, 0], dr[:, 1]
    parent = idx["new_parent"]
    x = jnp.zeros_like(rhs).at[0].set(rhs[0] / d[0])

    def substitute(x, level):
        s, m = level[0], level[1]
        xp = x[jax.lax.dynamic_slice_in_dim(parent, s, w)]
        new = (window(rhs, s) - window(b, s) * xp) / window(d, s)
        new = jnp.where(lanes >= m, window(x, s), new)
        return jax.lax.dynamic_update_slice_in_dim(x, new, s, 0), None

    x, _ = jax.lax.scan(substitute, x, idx["down"])
    return x[idx["inv"]]


def _matvec(topo: TreeTopology, d, a, b, x):
    """`M x` in O(N) for node-major `(N, *batch)` arrays: the diagonal, each row's parent
    column, each parent row's children (differentiated for the matrix cotangents). By
    `StaticMap`s, whose transposes are gathers: no scatter in a gradient's step
    (`neurojax._gather`)."""
    has_parent = jnp.asarray(topo.parent >= 0).reshape(-1, *([1] * (x.ndim - 1)))
    node_last = lambda m, y: jnp.moveaxis(apply(m, jnp.moveaxis(y, 0, -1)), -1, 0)  # noqa: E731
    bx = jnp.where(has_parent, b * node_last(topo.of_parent, x), 0.0)
    ax = jnp.where(has_parent, a * x, 0.0)
    return d * x + bx + node_last(topo.over_children, ax)


def _solve_hines(topo: TreeTopology, idx, d, a, b, rhs):
    """Hines elimination and back-substitution in one compiled loop each (`method="hines"`),
    compartment by compartment in the original numbering (`parent[i] < i`), for arrays
    shaped `(N, *batch)` (node-major); `a[0]`, `b[0]` are ignored.

    The fewest operations of any schedule (≈ 6 per compartment and cell of the batch,
    no padding, no gathers of whole levels) in 2(N − 1) sequential steps. Each step reads
    and writes one row of the batch, so a batch rides along as a vector: on a CPU the
    fastest schedule for batches and irregular trees (`"branches"` runs it there), 2nd
    to `"branches"` for one cell of regular branches; on a GPU, where every sequential
    step costs a kernel launch, `levels` is."""
    n = topo.n
    dtype = jnp.result_type(d, a, b, rhs)
    batch = rhs.shape[1:]
    d, a, b, rhs = (jnp.broadcast_to(x.astype(dtype), (n, *batch)) for x in (d, a, b, rhs))
    if n == 1:
        return rhs / d
    parent = idx["parent"]
    # unrolled only for larger trees: a small one gains little and compiles longer
    unroll = _UNROLL if n >= _UNROLL_FROM else 1
    pad = -(n - 1) % unroll if _PAD_TO_UNROLL else 0
    if pad:
        # dummy leaves after the last node (d = 1, zero couplings and rhs, parent 0), so
        # that each sweep's trip count is a multiple of `unroll`: otherwise XLA peels the
        # remainder's iterations out of the loop, each one a few fusions of the loop's
        # caller (per solve: ~20 more fusions in the time step, compiled and dispatched
        # apart). A dummy sends exactly 0 to the root and is never read: same values,
        # bit for bit.
        parent = jnp.concatenate([parent, jnp.zeros(pad, parent.dtype)])
        d, a, b, rhs = (
            jnp.concatenate([x, jnp.full((pad, *batch), fill, dtype)])
            for x, fill in ((d, 1.0), (a, 0.0), (b, 0.0), (rhs, 0.0))
        )
        n += pad
    row = functools.partial(jax.lax.dynamic_index_in_dim, keepdims=False)
    # d and rhs ride together as one (N, 2, *batch) array: one read and one write of the
    # parent's row per step
    dr = jnp.stack([d, rhs], axis=1)
    coef = jnp.stack([a * b, a], axis=1)
    one = jnp.ones(batch, dtype)

    def eliminate(k, dr):
        # leaves first: compartment i (from N − 1 down to 1) into its parent,
        # d_p −= a_i b_i / d_i,  rhs_p −= a_i rhs_i / d_i
        i = n - 1 - k
        p = parent[i]
        di, ri = row(dr, i)
        upd = row(coef, i) * (jnp.stack([one, ri]) / di)
        return jax.lax.dynamic_update_index_in_dim(dr, row(dr, p) - upd, p, 0)

    dr = jax.lax.fori_loop(0, n - 1, eliminate, dr, unroll=unroll)
    inv = 1.0 / dr[:, 0]
    rd, bd = dr[:, 1] * inv, b * inv  # x_i = rhs_i / d_i − (b_i / d_i) x_parent

    def substitute(i, x):
        xi = row(rd, i) - row(bd, i) * row(x, parent[i])
        return jax.lax.dynamic_update_index_in_dim(x, xi, i, 0)

    # x starts as rhs/d: right at the root, overwritten in order everywhere else
    x = jax.lax.fori_loop(1, n, substitute, rd, unroll=unroll)
    return x[: n - pad] if pad else x


def _branch_core(
    lay, idx, extra, batch, d_top, d_bot, dr, a_top, a_bot, ar, b_top, b_bot, br, r_top, r_bot, rr
):
    """`"branches"`' elimination of the interior rows, the reduced tree's Hines solve and
    the back-substitution, from the chains' tops, bottoms and interior rows in any layout
    (`_solve_branches`: the node order; `_solve_blocks`: chain-block order): returns
    `(x_top, x_bot, x_rows)`."""
    k = lay.k
    cat = lambda xs, axis=0: xs[0] if len(xs) == 1 else jnp.concatenate(xs, axis)  # noqa: E731
    fill_row = idx["fill_row"].reshape(k, -1, *extra)
    # M[row, bottom] and M[bottom, row] before any elimination: the last interior's
    f0 = jnp.where(fill_row, a_bot, 0.0)
    g0 = jnp.where(fill_row, b_bot, 0.0)
    zero = jnp.zeros_like(a_bot)

    def eliminate(carry, row):
        # row j (bottom up): its own entries, minus what its eliminated child row sent up
        dd, drr, fc, gc, acc_d, acc_r = carry
        dj, aj, bj, rj, fj, gj = row
        p = dj - dd
        r = rj - drr
        f = fj + fc
        g = gj + gc
        inv = 1.0 / p
        ai = aj * inv
        gi = g * inv
        carry = (ai * bj, ai * r, -ai * f, -gi * bj, acc_d + gi * f, acc_r + gi * r)
        return carry, (r * inv, bj * inv, f * inv)

    unroll = _BRANCH_UNROLL
    xs = (dr, ar, br, rr, f0, g0)
    (dd, drr, fc, gc, acc_d, acc_r), (xr, xb, xf) = jax.lax.scan(
        eliminate, (zero,) * 6, xs, reverse=True, unroll=unroll
    )
    # the reduced tree: every chain's top (minus what its first interior row sent up) and
    # bottom (minus the interiors' eliminations into it, coupled to its top by fill-in)
    direct = idx["direct"].reshape(-1, *extra)
    top4 = jnp.stack([d_top - dd, a_top, b_top, r_top - drr], axis=1)
    bot4 = jnp.stack([d_bot - acc_d, jnp.where(direct, a_bot, fc),
                      jnp.where(direct, b_bot, gc), r_bot - acc_r], axis=1)  # fmt: skip
    red = []
    for _, c0, m, L in lay.groups:
        t = top4[c0 : c0 + m]
        red.append(t if L == 1 else jnp.stack([t, bot4[c0 : c0 + m]], 1).reshape(2 * m, 4, *batch))
    red = cat(red)
    x_red = _solve_hines(
        lay.reduced_topology, {"parent": idx["red_parent"]},
        red[:, 0], red[:, 1], red[:, 2], red[:, 3],
    )  # fmt: skip
    x_top, x_bot, at = [], [], 0
    for _, _, m, L in lay.groups:
        if L == 1:
            x_top.append(x_red[at : at + m])
            x_bot.append(x_red[at : at + m])
            at += m
        else:
            pair = x_red[at : at + 2 * m].reshape(m, 2, *batch)
            x_top.append(pair[:, 0])
            x_bot.append(pair[:, 1])
            at += 2 * m
    x_top, x_bot = cat(x_top), cat(x_bot)

    def substitute(x_above, row):
        xr_j, xb_j, xf_j = row
        x = xr_j - xb_j * x_above - xf_j * x_bot
        return x, x

    _, x_rows = jax.lax.scan(substitute, x_top, (xr, xb, xf), unroll=unroll)
    return x_top, x_bot, x_rows


def _solve_branches(topo: TreeTopology, idx, d, a, b, rhs):
    """Branch-parallel elimination (`method="branches"`) for node-major `(N, *batch)`
    arrays in the original numbering; `a[0]`, `b[0]` are ignored.

    Every unbranched run of compartments (a *chain*: `_ChainLayout`) is reduced at once,
    all chains together: its interior nodes (all but its top and bottom) are eliminated
    from the bottom up, each into the node above it, which couples each one in turn to
    the chain's bottom (fill-in `f = M[node, bottom]`, `g = M[bottom, node]`), ending in a
    direct coupling top ↔ bottom. The interiors of all chains are rows of a `(k, chains,
    *batch)` array (padded with d = 1, zero couplings): k sequential steps, each a vector
    operation over every chain. What is left is a tree of the chains' tops and bottoms,
    solved by `_solve_hines`; then the interiors are back-substituted, top down, all
    chains at once: `x = (r − b·x_above − f·x_bottom)/d`. The same elimination as
    `"hines"` in another order (the fill-in adds ~4 operations per interior node), in
    2k + 2(reduced nodes) sequential steps instead of 2N (Jaxley's and the dendritic
    hierarchical scheduling's idea, on a CPU)."""
    lay = topo.chain_layout
    n, k = topo.n, lay.k
    dtype = jnp.result_type(d, a, b, rhs)
    batch = rhs.shape[1:]
    d, a, b, rhs = (jnp.broadcast_to(x.astype(dtype), (n, *batch)) for x in (d, a, b, rhs))
    pays = k >= _BRANCH_MIN_ROWS and len(lay.groups) <= _BRANCH_MAX_GROUPS
    if not pays or math.prod(batch) > 1:
        # a batch rides along as a vector in `"hines"`'s rows, which measured faster than
        # the rows of chains × batch here (vmap 10 at 2201 nodes: 11.4 against 29 µs per
        # solve per cell); a tree without interiors, or whose chains fall into many groups
        # (one slice per group: compile time and per-op overheads), gains nothing
        return _solve_hines(topo, {"parent": idx["parent"]}, d, a, b, rhs)
    extra = (1,) * len(batch)
    cat = lambda xs, axis=0: xs[0] if len(xs) == 1 else jnp.concatenate(xs, axis)  # noqa: E731

    def layout(x, fill):
        # each array apart (the couplings a, b are often loop-invariant: XLA hoists their
        # layout out of a time loop): tops (c,), bottoms (c,), interior rows (k, c)
        tops, bots, inner = [], [], []
        for s, _, m, L in lay.groups:
            blk = x[s : s + m * L].reshape(m, L, *batch)
            tops.append(blk[:, 0])
            bots.append(blk[:, L - 1])
            rows = jnp.moveaxis(blk[:, 1 : L - 1], 1, 0)  # (L − 2, m, *batch)
            if L < k + 2:  # padded rows: d = 1, zero couplings and rhs
                pad = jnp.full((k - max(L - 2, 0), m, *batch), fill, dtype)
                rows = jnp.concatenate([rows, pad])
            inner.append(rows)
        return cat(tops), cat(bots), cat(inner, 1)

    (d_top, d_bot, dr), (a_top, a_bot, ar), (b_top, b_bot, br), (r_top, r_bot, rr) = (
        layout(x, fill) for x, fill in ((d, 1.0), (a, 0.0), (b, 0.0), (rhs, 0.0))
    )
    x_top, x_bot, x_rows = _branch_core(lay, idx, extra, batch, d_top, d_bot, dr, a_top, a_bot,
                                        ar, b_top, b_bot, br, r_top, r_bot, rr)  # fmt: skip
    out = []
    for _, c0, m, L in lay.groups:
        if L == 1:
            out.append(x_top[c0 : c0 + m])
            continue
        parts = [x_top[c0 : c0 + m, None]]
        if L > 2:
            parts.append(jnp.moveaxis(x_rows[: L - 2, c0 : c0 + m], 0, 1))
        parts.append(x_bot[c0 : c0 + m, None])
        out.append(jnp.concatenate(parts, axis=1).reshape(m * L, *batch))
    return cat(out)


def _solve_blocks(topo: "BlockTopology", idx, d, a, b, rhs):
    """`"branches"` for node-major `(N, *batch)` arrays in chain-block order
    (`BlockTopology`): the same elimination, its rows read as slices of the block (no
    transpose) and its result the block itself. A batch runs `"hines"` on the arrays
    permuted to the base numbering and back (as `"branches"` runs `"hines"` for one)."""
    lay = topo.chain_layout
    n, k = topo.n, lay.k
    dtype = jnp.result_type(d, a, b, rhs)
    batch = rhs.shape[1:]
    d, a, b, rhs = (jnp.broadcast_to(x.astype(dtype), (n, *batch)) for x in (d, a, b, rhs))
    if math.prod(batch) > 1:
        perm, inv = idx["perm"], idx["inv"]
        x = _solve_hines(topo.base, {"parent": idx["parent"]}, d[inv], a[inv], b[inv], rhs[inv])
        return x[perm]
    extra = (1,) * len(batch)
    cat = lambda xs, axis=0: xs[0] if len(xs) == 1 else jnp.concatenate(xs, axis)  # noqa: E731

    def layout(x, fill):  # tops (c,), bottoms (c,), interior rows (k, c): slices
        tops, bots, inner = [], [], []
        for s, _, m, L in lay.groups:
            tops.append(x[s : s + m])
            bots.append(x[s + (L - 1) * m : s + L * m])
            rows = x[s + m : s + max(L - 1, 1) * m].reshape(max(L - 2, 0), m, *batch)
            if L < k + 2:  # padded rows: d = 1, zero couplings and rhs
                pad = jnp.full((k - max(L - 2, 0), m, *batch), fill, dtype)
                rows = jnp.concatenate([rows, pad])
            inner.append(rows)
        return cat(tops), cat(bots), cat(inner, 1)

    (d_top, d_bot, dr), (a_top, a_bot, ar), (b_top, b_bot, br), (r_top, r_bot, rr) = (
        layout(x, fill) for x, fill in ((d, 1.0), (a, 0.0), (b, 0.0), (rhs, 0.0))
    )
    x_top, x_bot, x_rows = _branch_core(lay, idx, extra, batch, d_top, d_bot, dr, a_top, a_bot,
                                        ar, b_top, b_bot, br, r_top, r_bot, rr)  # fmt: skip
    out = []
    for _, c0, m, L in lay.groups:  # top row, interior rows, bottom row: the block itself
        out.append(x_top[c0 : c0 + m])
        if L > 2:
            out.append(x_rows[: L - 2, c0 : c0 + m].reshape((L - 2) * m, *batch))
        if L > 1:
            out.append(x_bot[c0 : c0 + m])
    return cat(out)


_BRANCH_MIN_ROWS = 2
"""`"branches"` runs `"hines"` on trees whose longest chain has fewer interior nodes."""

_BRANCH_MAX_GROUPS = 8
"""`"branches"` runs `"hines"` on trees whose chains fall into more groups (each group is a
few slices and reshapes: compile time and per-op overheads grow with them). Measured (one
cell, float32, CPU time, `bench_cable.py --tool solve`): the benchmark trees (2 groups)
1.8–2.0× faster than `"hines"`; the Hay cell's simplified morphology (34 groups, 327
nodes), forced: 2.48 against 2.80 µs per solve, but 3.5 s to compile against 0.8 s."""

_BRANCH_UNROLL = 1
"""`"branches"`: steps per iteration of the row loops. Not unrolled: XLA fuses an unrolled
row's computation into the next row's and recomputes it (O(k²) work)."""


_UNROLL = 8
"""Steps per iteration of `"hines"`'s compiled loops (`fori_loop(..., unroll=)`): the loop's
own bookkeeping per compartment halves. Measured (400 solves in a scan, float32, CPU time,
loaded 2-core VM, unroll 1 / 4 / 8 / 16): 2001 nodes 22.8 / 23.0 / 14.5 / 16.0 µs per solve,
501 nodes 5.3–8.2 / 6.4 / 3.8 / 4.0 µs."""

_PAD_TO_UNROLL = True
"""`"hines"` pads the tree with dummy leaves to a multiple of `_UNROLL` (see `_solve_hines`);
a module flag for `benchmarks/exp_hay_compile_size.py`'s comparison."""

_UNROLL_FROM = 256
"""Trees with fewer nodes keep `unroll=1` (the tests' small cells compile as before)."""

METHODS = ("hines", "levels", "branches")
"""The schedules of `tree_solve`: `"hines"`, one compiled loop over the compartments;
`"levels"`, `2 × height` steps each over a block of independent compartments (fewest
sequential steps: for accelerators); `"branches"`, the unbranched chains' interiors
eliminated all at once around a Hines solve of the chains' ends (fastest on CPU for one
cell; `"hines"` for batches and irregular trees)."""

_SOLVERS = {
    "hines": _solve_hines,
    "levels": _solve_levels,
    "branches": _solve_branches,
    "blocks": _solve_blocks,
}  # "blocks": `"branches"` on a `BlockTopology` (internal)


def _index_arrays(topo: TreeTopology, method: str) -> dict:
    """The topology's index arrays that `method`'s solver reads (numpy, int)."""
    if method == "hines":
        return {"parent": topo.parent_or_root}
    if method in ("branches", "blocks"):
        lay = topo.chain_layout
        extra = {} if method == "branches" else {"perm": topo.perm, "inv": topo.inv}
        return {
            **extra,
            "parent": (topo.base if method == "blocks" else topo).parent_or_root,
            "red_parent": lay.reduced_topology.parent_or_root,
            "fill_row": lay.fill_row,
            "direct": lay.direct,
        }
    return {k: getattr(topo, k) for k in ("perm", "children", "up", "new_parent", "down", "inv")}


def default_method() -> str:
    """`"branches"` on a CPU backend (which runs `"hines"` for batches and irregular
    trees), `"levels"` on an accelerator (JAX's default backend)."""
    return "branches" if jax.default_backend() == "cpu" else "levels"


@functools.partial(jax.jit, static_argnums=(0, 1))  # one compiled solve per topology and shape
def _tree_solve(topo, method, d, a, b, rhs):
    # `lax.custom_linear_solve` makes the solve a black box to autodiff:
    # - reverse mode: the cotangent of rhs is `transpose_solve`, one solve with Mᵀ (the
    #   same tree with a and b swapped), and the cotangents of d, a, b come from the
    #   O(N) `matvec` (−λ xᵀ on the tree's nonzeros) — never a backward pass through the
    #   elimination loop;
    # - forward mode (jvp, jacfwd): ẋ = M⁻¹(ṙ − Ṁ x), one more solve.
    solve = _node_major_batching(functools.partial(_SOLVERS[method], topo))
    idx = {k: jnp.asarray(v) for k, v in _index_arrays(topo, method).items()}
    return jax.lax.custom_linear_solve(
        functools.partial(_matvec, topo, d, a, b),
        rhs,
        solve=lambda _, r: solve(idx, d, a, b, r),
        transpose_solve=lambda _, r: solve(idx, d, b, a, r),
    )


def _node_major_batching(solve):
    """`solve(idx, d, a, b, rhs)` for node-major `(N, *batch)` arrays, with a `vmap` rule
    that puts the mapped axis last (node-major) instead of first: each step of the loops
    then moves one contiguous row of the batch (measured: a vmap of 100 cells of 2201
    compartments, 2× faster than the axis vmap would put first).

    The topology's index arrays `idx` are arguments, not closed over: JAX asserts that a
    `custom_vmap` function's constants are unbatched, and a `vmap` of a `cond` (fit's
    descent over several starts) broadcasts every constant of its branches, so a closed-over
    index array arrived batched (an `AssertionError` in JAX, reverse mode through a cell
    under `fit(..., starts=...)`). Batched or not, they are the same for every member of
    the batch (a broadcast constant): the rule takes the first."""

    @jax.custom_batching.custom_vmap
    def batched(idx, d, a, b, rhs):
        return solve(idx, d, a, b, rhs)

    @batched.def_vmap
    def _rule(axis_size, in_batched, idx, d, a, b, rhs):
        idx = {k: v[0] if in_batched[0][k] else v for k, v in idx.items()}
        in_batched = in_batched[1:]
        args = [d, a, b, rhs]
        shape = jnp.broadcast_shapes(
            *(x.shape[1:] if bat else x.shape for x, bat in zip(args, in_batched, strict=True))
        )
        args = [
            jnp.moveaxis(x, 0, -1) if bat else x[..., None]
            for x, bat in zip(args, in_batched, strict=True)
        ]
        args = [jnp.broadcast_to(x, (*shape, axis_size)) for x in args]
        return jnp.moveaxis(batched(idx, *args), -1, 0), True

    return batched


def tree_solve(
    topology: TreeTopology,
    d: Float[Array, "*#batch n"],
    a: Float[Array, "*#batch n"],
    b: Float[Array, "*#batch n"],
    rhs: Float[Array, "*#batch n"],
    *,
    method: str | None = None,
) -> Float[Array, "*#batch n"]:
    """Solve `M x = rhs` for the tree matrix `M` described in the module docstring.

    **Arguments**

    - `topology`: a `TreeTopology` built from the parent array.
    - `d`: the diagonal.
    - `a`: `a[i] = M[parent[i], i]` (`a[0]` is ignored).
    - `b`: `b[i] = M[i, parent[i]]` (`b[i]` is ignored for the root).
    - `rhs`: the right-hand side.
    - `method`: the elimination schedule, one of `METHODS`: `"hines"` (one compiled
      loop over the compartments, 2(N − 1) short sequential steps), `"levels"`
      (`2 × height` steps, each over all compartments of one height: fewest sequential
      steps, for accelerators) or `"branches"` (every unbranched chain's interior
      eliminated at once around a Hines solve of the chains' ends: fastest on CPU for
      one cell; batches and irregular trees run `"hines"`). Default
      `default_method()`: `"branches"` on CPU, `"levels"` elsewhere. Same values every
      way, to round-off.

    Leading batch axes are allowed (all four arrays broadcast together); the last axis is
    the compartment. No pivoting: the matrix must be such that elimination from the
    leaves is stable, as it is for every cable matrix (irreducibly diagonally dominant,
    with positive diagonal and non-positive couplings). Forward and backward both cost
    O(N) work, the backward pass one more solve with the transposed matrix.
    """
    if not isinstance(topology, TreeTopology):  # (a BlockTopology is one)
        raise TypeError(
            f"topology must be a TreeTopology, got {type(topology).__name__}; build it "
            "once with TreeTopology(parent)."
        )
    if method is None:
        method = default_method()
    if method not in _SOLVERS:
        raise ValueError(
            f"method must be one of {METHODS} (or None for the default), got {method!r}."
        )
    arrays = [jnp.asarray(x) for x in (d, a, b, rhs)]
    shape = jnp.broadcast_shapes(*(x.shape for x in arrays))
    if len(shape) == 0 or shape[-1] != topology.n:
        raise ValueError(
            f"the last axis of d, a, b and rhs must have the {topology.n} compartments of "
            f"the tree, got broadcast shape {shape}."
        )
    if isinstance(topology, BlockTopology):
        if method != "branches":  # the base numbering's solve, permuted there and back
            base = [apply(topology.to_base, jnp.broadcast_to(x, shape)) for x in arrays]
            return apply(topology.from_base, tree_solve(topology.base, *base, method=method))
        method = "blocks"
    # node-major: (N, *batch), so that a step moves contiguous rows of the batch
    arrays = [jnp.moveaxis(jnp.broadcast_to(x, shape), -1, 0) for x in arrays]
    return jnp.moveaxis(_tree_solve(topology, method, *arrays), 0, -1)
