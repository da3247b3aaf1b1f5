"""Experiment (session 13, D): the 10⁴-compartment HH tree's backward-Euler step
(`bench_cable.py`'s tree, float32, 100 ms at dt 0.025, V at the soma), variants compiled
ahead of time and interleaved round by round in one process, CPU time:

- `full`: as shipped;
- `gates cheap`: `HH.update` replaced by a cheap relaxation that still moves every gate
  each step (`x + 1e-3·(V/100 − x)`, no `exp`), so that nothing of the current becomes
  loop-invariant (the session-12 ablation froze the gates, which also let XLA hoist
  `g·m³h` out of the loop and so overstated the gates' share);
- `solve diag`: the tree solve replaced by `rhs / d`;
- `unroll rows`, `unroll 3`, `unroll 9`: the `"branches"` solve's two row loops
  unrolled (`_BRANCH_UNROLL`: whole, 3, 9);
- `nodes`: the gates at node layout (`cable._cell.GATES_AT_NODES`);
- `nodes + unroll`;
- `current leak`: the HH current replaced by its leak term (the gates then feed nothing
  live and XLA drops their update: this one removes the current and the gates);
  `leak+cheap+diag` (and `nodes+…`): with the solve a division too (what is left: the
  node maps, the axial current, the voltage update, recording);
- `chain axial` (`b1`: the result, `b2`: the flows materialised behind an optimization
  barrier; `nodes + chain axial`): the prototype `axial_current` below, for any tree
  whose chains fall into ≤ 8 groups;
- `axial 2d` (`barrier`; `nodes + axial 2d`): a prototype for this regular tree only,
  the axial current from slices of a `(branches, 11)` reshape of V (chain layout), the
  tops' parents and the ends' children by small `StaticMap`s (optionally materialised
  behind an optimization barrier).

The ablations (`gates cheap`, `solve diag`) give wrong voltages; the others are compared
with `full`'s soma trace (max |ΔV|, mV).

    python benchmarks/exp_cable_s13_ablate.py [--branches 1000] [--rounds 5] [--only a,b]
        [--out results.json]

(`--only` names are matched whole, split at commas; `full` always runs.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# --------------------------------------------------------------------------------------
# Prototype (session 13, D; measured here, not in the library: it gained 0–2 %): the
# axial current in chain layout for any tree whose chains fall into few groups.
import weakref  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec  # noqa: E402

from neurojax._gather import StaticMap  # noqa: E402
from neurojax._gather import apply as gather_apply  # noqa: E402
from neurojax.cable._node_maps import apply  # noqa: E402

_BARRIER = 0
_MAX_GROUPS = 8  # as the `"branches"` tree solve: more groups, more slices and overheads
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _ChainAxial:
    """Static plan of `axial_current` in chain layout for one tree (numpy, built once).

    The tree's chains (`TreeTopology.chain_layout`: runs of consecutive nodes, each after
    the first the only child of the one before, in groups of equal length that tile
    `0 … n − 1`): inside a chain a node's parent is the node before and its only child
    the node after, so `x[parent]` and the sum over children are the chain's rows shifted
    by one; only the chains' tops (parent elsewhere) and bottoms (children elsewhere,
    all of them tops) need an index: `top_parent` (`n → c`: V at each top's parent, 0 at
    the root) and `kids` (`c → c`: the sum of the flows into each bottom's child tops,
    in ascending node order as `over_children` sums them)."""

    def __init__(self, topology):
        lay = topology.chain_layout
        parent = np.asarray(topology.parent, dtype=np.int64)
        n = parent.size
        self.groups = [(int(s), int(c0), int(m), int(L)) for s, c0, m, L in lay.groups]
        tops = np.concatenate([s + L * np.arange(m) for s, _, m, L in self.groups])
        bots = np.concatenate([s + L * np.arange(m) + L - 1 for s, _, m, L in self.groups])
        c = tops.size
        has = parent[tops] >= 0
        self.top_parent = StaticMap(np.nonzero(has)[0], parent[tops[has]], c, n)
        chain_of_bottom = np.full(n, -1, np.int64)
        chain_of_bottom[bots] = np.arange(c)
        rows = chain_of_bottom[parent[tops[has]]]
        if (rows < 0).any():  # cannot happen: a top hangs from a chain's bottom
            raise AssertionError("a chain's top hangs from a node that is no chain's bottom")
        self.kids = StaticMap(rows, np.nonzero(has)[0], c, c)
        self.n = n


def _plan(topology):
    got = _PLANS.get(topology)
    if got is None:
        lay = topology.chain_layout
        ok = topology.n > 1 and len(lay.groups) <= _MAX_GROUPS and lay.k >= 1
        got = _ChainAxial(topology) if ok else False
        _PLANS[topology] = got
    return got


def axial_current(topology, v, g_ax, of_parent: StaticMap, over_children: StaticMap):
    """`Σ_j g_ij (V_j − V_i)` per node (nA): `flow − Σ_children flow`, `flow_i = g_i (V_p(i)
    − V_i)` with `g_i` (µS) the conductance from node i to its parent (0 at the root).

    Where the tree's chains fall into at most 8 groups of equal length (`_ChainAxial`)
    each group is a `(length, chains)` block of V (a static slice,
    reshape and transpose): the parent's V and the children's flow are the block's rows
    shifted by one, the chains' tops and bottoms read by two `StaticMap`s of one value
    per chain — the same operations on the same values as the gathers `of_parent` and
    `over_children` (which the other trees use), without their per-node gathers, which
    XLA:CPU runs one element at a time (~0.65 ns each: 11001 + 22002 per step on the
    10⁴-compartment benchmark tree). `v`, `g_ax`: `(*batch, n)`."""
    plan = _plan(topology)
    v = jnp.asarray(v)
    if not plan or v.shape[-1] != plan.n:
        flow = g_ax * (apply(of_parent, v) - v)  # into node i from its parent
        return flow - apply(over_children, flow)
    g_ax = jnp.broadcast_to(g_ax, v.shape)
    lead = v.shape[:-1]
    v_top_parent = gather_apply(plan.top_parent, v)  # (*batch, chains)

    def block(x, s, m, L):  # (*batch, L, m): row r holds every chain's r-th node
        return jnp.swapaxes(x[..., s : s + m * L].reshape(*lead, m, L), -1, -2)

    flows = []
    for s, c0, m, L in plan.groups:
        vb = block(v, s, m, L)
        vp = jnp.concatenate([v_top_parent[..., None, c0 : c0 + m], vb[..., : L - 1, :]], -2)
        flows.append(block(g_ax, s, m, L) * (vp - vb))
    if _BARRIER > 1:
        flows = jax.lax.optimization_barrier(flows)
    # the flow into each chain's bottom from its child tops
    into_bottoms = gather_apply(plan.kids, jnp.concatenate([f[..., 0, :] for f in flows], -1))
    out = []
    for (_s, c0, m, L), fb in zip(plan.groups, flows, strict=True):
        kids = jnp.concatenate([fb[..., 1:, :], into_bottoms[..., None, c0 : c0 + m]], -2)
        out.append(jnp.swapaxes(fb - kids, -1, -2).reshape(*lead, m * L))
    out = out[0] if len(out) == 1 else jnp.concatenate(out, -1)
    return jax.lax.optimization_barrier(out) if _BARRIER else out


# --------------------------------------------------------------------------------------


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--only", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _cell
    from neurojax.channels import _builtin
    from neurojax.solvers import _tree_solve as ts

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(args.branches)])
    morph_parent = Cell(morph, [(HH(), None)], ra=35.4).discretisation.parent
    update0, solve0, unroll0 = _builtin.HH.update, ts._SOLVERS["branches"], ts._BRANCH_UNROLL

    def cheap(self, v, gates, dt, temperature):
        return type(gates)(*(x + 1e-3 * (v / 100.0 - x) for x in gates))

    current0 = _builtin.HH.current

    def linear(self, v, gates):  # the leak alone: the HH current's cost
        return self.g_l * (v - self.e_l) + 0.0 * gates.m

    def diag_only(topo, idx, d, a, b, rhs):
        return rhs / d

    axial0 = Cell._axial_current

    def axial_2d(barrier):
        """Prototype for the regular benchmark tree only (node 0 the root, then 11 nodes
        per branch): the axial current from slices of a (branches, 11) reshape, the
        chain tops' parents and the branch ends' children by small `StaticMap`s."""
        from neurojax._gather import StaticMap
        from neurojax._gather import apply as gapply

        nb, L = args.branches, NSEG + 1
        par = np.asarray(morph_parent)  # node parents
        tops = 1 + L * np.arange(nb)
        top_par = StaticMap.take(par[tops], nb * L + 1)  # V of each top's parent
        ends = tops + L - 1
        kid_rows, kid_cols = [], []
        for j, e in enumerate(ends):
            for c in np.nonzero(par[tops] == e)[0]:
                kid_rows.append(j)
                kid_cols.append(c)
        kids = StaticMap(np.array(kid_rows), np.array(kid_cols), nb, nb)  # Σ over child tops

        def f(self, v, g_ax):
            vb = v[..., 1:].reshape(*v.shape[:-1], nb, L)
            gb = g_ax[..., 1:].reshape(*g_ax.shape[:-1], nb, L)
            vp = jnp.concatenate([gapply(top_par, v)[..., None], vb[..., :, : L - 1]], -1)
            fb = gb * (vp - vb)
            cs = jnp.concatenate([fb[..., :, 1:], gapply(kids, fb[..., :, 0])[..., None]], -1)
            f0 = g_ax[..., :1] * (0.0 - v[..., :1])
            out = jnp.concatenate([f0 - fb[..., :1, 0], (fb - cs).reshape(*v.shape[:-1], -1)], -1)
            return jax.lax.optimization_barrier(out) if barrier else out

        return f

    def chain_axial(self, v, g_ax):  # the prototype above
        geo = self.geometry
        return axial_current(geo.disc.topology, v, g_ax, geo.of_parent, geo.over_children)

    def chain_axial_b(level):
        def f(self, v, g_ax):
            global _BARRIER
            _BARRIER = level
            try:
                return chain_axial(self, v, g_ax)
            finally:
                _BARRIER = 0

        return f

    def compiled(
        nodes=False, update=update0, solve=solve0, unroll=unroll0, axial=None, current=current0
    ):
        _cell.GATES_AT_NODES = nodes
        cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
        _cell.GATES_AT_NODES = False
        if axial is not None:
            Cell._axial_current = axial
        _builtin.HH.current = current
        _builtin.HH.update, ts._BRANCH_UNROLL = update, unroll
        ts._SOLVERS["branches"] = solve
        jax.clear_caches()
        rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
        be = nj.solvers.BackwardEuler()
        f = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=be, saveat=rec,
                                          throw=False).states)  # fmt: skip
        f = f.lower(cell).compile()
        _builtin.HH.update, ts._BRANCH_UNROLL = update0, unroll0
        ts._SOLVERS["branches"] = solve0
        Cell._axial_current = axial0
        _builtin.HH.current = current0
        out = np.asarray(jax.block_until_ready(f(cell)))
        return (lambda: jax.block_until_ready(f(cell))), out

    k = 2 * NSEG  # more than the rows: the scan unrolled whole
    variants = {
        "full": {},
        "gates cheap": {"update": cheap},
        "solve diag": {"solve": diag_only},
        "unroll rows": {"unroll": k},
        "unroll 3": {"unroll": 3},
        "unroll 9": {"unroll": 9},
        "nodes": {"nodes": True},
        "nodes + unroll": {"nodes": True, "unroll": k},
        "current leak": {"current": linear},
        "leak+cheap+diag": {"current": linear, "update": cheap, "solve": diag_only},
        "nodes+leak+cheap+diag": {
            "nodes": True,
            "current": linear,
            "update": cheap,
            "solve": diag_only,
        },
        "nodes+leak+cheap+diag+axial 2d": {
            "nodes": True,
            "current": linear,
            "update": cheap,
            "solve": diag_only,
            "axial": axial_2d(True),
        },
        "chain axial": {"axial": chain_axial},
        "nodes + chain axial": {"nodes": True, "axial": chain_axial},
        "chain axial b1": {"axial": chain_axial_b(1)},
        "chain axial b2": {"axial": chain_axial_b(2)},
        "axial 2d": {"axial": axial_2d(False)},
        "axial 2d barrier": {"axial": axial_2d(True)},
        "nodes + axial 2d": {"nodes": True, "axial": axial_2d(False)},
    }
    if args.only:
        keep = ["full", *args.only.split(",")]
        variants = {n: v for n, v in variants.items() if n in keep}
    runs, outs = {}, {}
    for name, kw in variants.items():
        runs[name], outs[name] = compiled(**kw)
    t = {n: [] for n in runs}
    for _ in range(args.rounds):
        for n, run in runs.items():
            c = time.process_time()
            run()
            t[n].append(time.process_time() - c)
    res = {}
    for n, v in t.items():
        us = statistics.median(v) / n_steps * 1e6
        ratio = statistics.median(a / b for a, b in zip(t["full"], v, strict=True))
        dv = float(np.max(np.abs(outs[n] - outs["full"])))
        res[n] = {"us_per_step": us, "full_over_this": ratio, "max_dv_mV": dv}
        print(f"{n:15s} {us:7.2f} µs/step  full ÷ this {ratio:5.3f}  max|ΔV| {dv:.2e} mV")
    load = os.getloadavg()
    print("load average:", load)
    if args.out:
        Path(args.out).write_text(json.dumps({"results": res, "load": load,
                                              "rounds": args.rounds}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
