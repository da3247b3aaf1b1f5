"""(Needs `Cell(..., node_order="chain_blocks")`, which session 15 removed: the time loop
runs in chain-block order by default with nothing renumbered, `cable._cell.LOOP_ORDER`;
rerun this script at commit e72408e. Session 15's comparison: `bench_cable.py --tool paired
--tree-loop`, `exp_cable_s15_loop_order.py`.)

Experiment (session 14, B): the `bench_cable.py` HH tree's backward-Euler step with the
whole cell state in chain-block order, as a hand-written prototype, against neurojax's
shipped step (and Jaxley), paired, CPU time.

The lever session 13 left (benchmarks/README.md, "Cable cells"): the nodes of each group of
equal-length chains of the `"branches"` tree solve (`TreeTopology.chain_layout`: runs of
consecutive nodes, each the only child of the one before) stored row-major as a
`(length, chains)` block — row r holds every chain's r-th node — instead of chain by chain.
In that order, for the benchmark tree (a root node, then 1000 chains of 11 nodes: 10
compartments and the membrane-less branch end):

- the membrane (the HH region) is rows 0–9: one contiguous run of the state (no take/put
  gathers between nodes and compartments: a slice and a zero pad);
- a node's parent is the row above (a slice shifted by one row), except the chains' tops
  (row 0), whose parents (the bottoms of other chains) are one small gather of one value
  per chain; a node's only child is the row below, except the bottoms (the last row),
  whose children (other chains' tops) are one small gather of the tops' flows;
- the tree solve's interior rows are a reshape of a contiguous slice (no transpose), its
  tops and bottoms are the first and last rows, and its result is the block itself.

The prototype (`BlockStep`) runs the same arithmetic as the library's step (the HH
channel's own `current` and `update`, one JVP for the slope, `_solve_branches`' row
elimination and back-substitution, the reduced tree by `_solve_hines`), on the state
permuted once before the loop (`perm`: block position → node), with the soma V recorded
at its block position. It is checked against `nj.simulate` (float64: the soma trace and
the final state, max |Δ|) and timed against it in the same process, variants compiled
ahead and interleaved round by round (CPU time); `--jaxley-python` adds Jaxley's forward
run (its server process, `bench_cable.py --tool jaxley-serve`) in the same rounds.

Variants: `library` (`nj.simulate`, as shipped), `library nodes` (with
`cable._cell.GATES_AT_NODES`), `library blocks` (with `Cell(..., node_order="chain_blocks")`, the
library version of the prototype), `blocks` (the prototype), `blocks barrier` (the axial
flows materialised behind an optimization barrier before the children's sum), `library
blocks, no materialise` (`Cell.linearise`'s `_materialise` of F
and M skipped: they are then fused into their consumers).

    python benchmarks/exp_cable_s14_blocks.py [--branches 1000] [--rounds 5]
        [--jaxley-python PY] [--check-only] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import DT, NSEG, T_STOP, spikes, stimulus, tree_spec  # noqa: E402


def build(branches, gates_at_nodes=False, chain_blocks=False):
    from neurojax.cable import HH, Branch, Cell, Morphology, _cell

    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(branches)])
    order = "chain_blocks" if chain_blocks else "tree"
    _cell.GATES_AT_NODES = gates_at_nodes
    try:
        return Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)], node_order=order)
    finally:
        _cell.GATES_AT_NODES = False


class BlockPlan:
    """Static (numpy) plan of the chain-block order for one cell: `perm` (block position →
    node), `inv` (node → block position), the membrane run `[m0, m1)` (asserted
    contiguous in block order), the groups `(start, first chain, chains, length)` and the
    two small gathers: `top_parent` (block positions of each chain top's parent; the
    root's chain reads itself with conductance 0) and `kid_table` (per chain, the chains
    whose tops hang from its bottom, padded with `c`)."""

    def __init__(self, cell):
        import numpy as np

        disc = cell.discretisation
        topo = disc.topology
        lay = topo.chain_layout
        n = topo.n
        parent = np.asarray(topo.parent)
        perm = np.empty(n, np.int64)
        for s, _c0, m, L in lay.groups:
            j, r = np.meshgrid(np.arange(m), np.arange(L))  # (L, m): row r, chain j
            perm[s : s + m * L] = (s + j * L + r).ravel()
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        mem = np.sort(inv[np.asarray(disc.membrane)])
        m0, m1 = int(mem[0]), int(mem[-1]) + 1
        if not np.array_equal(mem, np.arange(m0, m1)):
            raise ValueError("the membrane is not one run in block order (prototype limit)")
        # the region's compartments in block order: gates permuted once
        region = np.asarray(cell.regions[0])
        pos_in_region = np.full(n, -1, np.int64)
        pos_in_region[region] = np.arange(region.size)
        self.gate_perm = pos_in_region[perm[m0:m1]]  # block membrane slot → region index
        assert (self.gate_perm >= 0).all()
        tops = np.concatenate([s + L * np.arange(m) for s, _, m, L in lay.groups])
        bots = np.concatenate([s + L * np.arange(m) + L - 1 for s, _, m, L in lay.groups])
        c = tops.size
        self.top_parent = np.where(parent[tops] >= 0, inv[np.maximum(parent[tops], 0)], 0)
        chain_of_bottom = np.full(n, -1, np.int64)
        chain_of_bottom[bots] = np.arange(c)
        kids = [[] for _ in range(c)]
        for j in range(c):
            if parent[tops[j]] >= 0:
                kids[chain_of_bottom[parent[tops[j]]]].append(j)
        w = max(1, max(len(k) for k in kids))
        self.kid_table = np.full((c, w), c, np.int64)
        for j, k in enumerate(kids):
            self.kid_table[j, : len(k)] = k
        self.groups = [tuple(int(x) for x in g) for g in lay.groups]
        self.perm, self.inv, self.m0, self.m1, self.n, self.c = perm, inv, m0, m1, n, c
        self.lay = lay


def block_simulate(cell, plan, stim, dt, dtype, barrier=False):
    """The whole run in chain-block order: returns the soma V trace (n_steps,)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from neurojax.solvers._tree_solve import _solve_hines

    ch = cell.mechanisms[0]
    temp = cell.temperature
    n, m0, m1 = plan.n, plan.m0, plan.m1
    y0 = cell.init_state()
    perm = jnp.asarray(plan.perm)
    v0 = jnp.asarray(y0.v, dtype)[perm]
    gates0 = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype)[plan.gate_perm], y0.gates[0])
    # constants, permuted once (outside the loop)
    g_ax = jnp.asarray(cell._axial(dtype))[perm]
    cap = jnp.asarray(cell._capacitance(dtype))[perm]
    area = (jnp.asarray(cell.geometry.area, dtype) * 1e-5)[perm][m0:m1]
    soma = int(plan.inv[cell.node(0, 0.5)])
    lay = plan.lay
    top_parent = jnp.asarray(plan.top_parent)
    kid_table = jnp.asarray(plan.kid_table)
    has_parent_top = jnp.asarray(
        np.asarray(cell.discretisation.topology.parent)[
            np.concatenate([s + L * np.arange(m) for s, _, m, L in plan.groups])
        ]
        >= 0
    )

    def rows(x, s, m, L, r0, r1):  # rows r0..r1-1 of a group: (r1 - r0, m)
        return x[s + r0 * m : s + r1 * m].reshape(r1 - r0, m)

    def tops(x):
        return jnp.concatenate([x[s : s + m] for s, _, m, L in plan.groups])

    def bots(x):
        return jnp.concatenate([x[s + (L - 1) * m : s + L * m] for s, _, m, L in plan.groups])

    # the children sum of g_ax (loop-invariant): as the axial flows below
    def over_children(f):
        # each node's children: the row below inside a chain; a bottom's: the child tops
        ft = jnp.concatenate([tops(f), jnp.zeros(1, f.dtype)])
        kid = ft[kid_table[:, 0]]
        for q in range(1, kid_table.shape[1]):
            kid = kid + ft[kid_table[:, q]]
        parts = []
        at = 0
        for s, _c0, m, L in plan.groups:
            if L > 1:
                parts.append(f[s + m : s + L * m])  # rows 1..L-1 feed rows 0..L-2
            parts.append(kid[at : at + m])
            at += m
        return jnp.concatenate(parts)

    def of_parent(x):
        xp_top = jnp.where(has_parent_top, x[top_parent], 0.0)
        parts, at = [], 0
        for s, _c0, m, L in plan.groups:
            parts.append(xp_top[at : at + m])
            if L > 1:
                parts.append(x[s : s + (L - 1) * m])
            at += m
        return jnp.concatenate(parts)

    lap_diag = g_ax + over_children(g_ax)
    off = -g_ax
    k = lay.k
    fill_row = jnp.asarray(lay.fill_row)
    direct = jnp.asarray(lay.direct)
    red_parent = jnp.asarray(lay.reduced_topology.parent_or_root)

    def solve(d, a, b, rhs):  # `_solve_branches` in block order: rows are slices
        def layout(x, fill):
            t, bt, inner = [], [], []
            for s, _, m, L in plan.groups:
                t.append(x[s : s + m])
                bt.append(x[s + (L - 1) * m : s + L * m])
                r = rows(x, s, m, L, 1, L - 1) if L > 2 else jnp.zeros((0, m), x.dtype)
                if L < k + 2:
                    r = jnp.concatenate([r, jnp.full((k - max(L - 2, 0), m), fill, x.dtype)])
                inner.append(r)
            cat = lambda xs, ax=0: xs[0] if len(xs) == 1 else jnp.concatenate(xs, ax)  # noqa
            return cat(t), cat(bt), cat(inner, 1)

        (d_top, d_bot, dr), (a_top, a_bot, ar), (b_top, b_bot, br), (r_top, r_bot, rr) = (
            layout(x, f) for x, f in ((d, 1.0), (a, 0.0), (b, 0.0), (rhs, 0.0))
        )
        f0 = jnp.where(fill_row, a_bot, 0.0)
        g0 = jnp.where(fill_row, b_bot, 0.0)
        zero = jnp.zeros_like(a_bot)

        def eliminate(carry, row):
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

        (dd, drr, fc, gc, acc_d, acc_r), (xr, xb, xf) = jax.lax.scan(
            eliminate, (zero,) * 6, (dr, ar, br, rr, f0, g0), reverse=True
        )
        top4 = jnp.stack([d_top - dd, a_top, b_top, r_top - drr], axis=1)
        bot4 = jnp.stack([d_bot - acc_d, jnp.where(direct, a_bot, fc),
                          jnp.where(direct, b_bot, gc), r_bot - acc_r], axis=1)  # fmt: skip
        red = []
        for _, c0, m, L in plan.groups:
            t = top4[c0 : c0 + m]
            red.append(t if L == 1 else jnp.stack([t, bot4[c0 : c0 + m]], 1).reshape(2 * m, 4))
        red = jnp.concatenate(red)
        x_red = _solve_hines(lay.reduced_topology, {"parent": red_parent},
                             red[:, 0], red[:, 1], red[:, 2], red[:, 3])  # fmt: skip
        x_top, x_bot, at = [], [], 0
        for _, _, m, L in plan.groups:
            if L == 1:
                x_top.append(x_red[at : at + m])
                x_bot.append(x_red[at : at + m])
                at += m
            else:
                pair = x_red[at : at + 2 * m].reshape(m, 2)
                x_top.append(pair[:, 0])
                x_bot.append(pair[:, 1])
                at += 2 * m
        x_top, x_bot = jnp.concatenate(x_top), jnp.concatenate(x_bot)

        def substitute(x_above, row):
            xr_j, xb_j, xf_j = row
            x = xr_j - xb_j * x_above - xf_j * x_bot
            return x, x

        _, x_rows = jax.lax.scan(substitute, x_top, (xr, xb, xf))
        out = []
        for _, c0, m, L in plan.groups:  # in block order: top row, interior rows, bottom row
            if L == 1:
                out.append(x_top[c0 : c0 + m])
                continue
            out.append(x_top[c0 : c0 + m])
            if L > 2:
                out.append(x_rows[: L - 2, c0 : c0 + m].reshape(-1))
            out.append(x_bot[c0 : c0 + m])
        return jnp.concatenate(out)

    zeros_lo = jnp.zeros(m0, dtype)
    zeros_hi = jnp.zeros(n - m1, dtype)

    def place(x):  # the membrane run into all nodes (a zero pad)
        return jnp.concatenate([zeros_lo, x, zeros_hi])

    def step(carry, i_stim):
        v, gates = carry
        vr = v[m0:m1]
        i, di = jax.jvp(lambda u: ch.current(u, gates), (vr,), (jnp.ones_like(vr),))
        i_mem = place(i * area)
        g_mem = place(di * area)
        i_mem = i_mem - jnp.where(jnp.arange(n) == soma, i_stim, 0.0)
        flow = g_ax * (of_parent(v) - v)
        if barrier:
            flow = jax.lax.optimization_barrier(flow)
        rhs = flow - over_children(flow) - i_mem
        d = cap / dt + g_mem + lap_diag
        v_new = v + solve(d, off, off, rhs)
        gates = ch.update(v_new[m0:m1], gates, dt, temp)
        return (v_new, gates), v_new[soma]

    stim = jnp.asarray(stim, dtype)
    (v, gates), trace = jax.lax.scan(step, (v0, gates0), stim)
    return trace, v, gates


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--jaxley-python", default=os.environ.get("JAXLEY_PYTHON"))
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--x64-steps", type=int, default=4000)
    p.add_argument("--out", default=None)
    p.add_argument("--only", default=None, help="variants separated by ; (and `library`)")
    p.add_argument(
        "--solver",
        default="be",
        choices=["be", "trbdf2"],
        help="the library variants' solver (the prototypes are backward Euler)",
    )
    args = p.parse_args(argv)
    import jax

    if args.check_only:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj

    n_steps = int(round(T_STOP / DT))
    be = nj.solvers.BackwardEuler() if args.solver == "be" else nj.solvers.TRBDF2()
    cell = build(args.branches)
    plan = BlockPlan(cell)
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    out = {"branches": args.branches, "compartments": args.branches * NSEG}
    if args.check_only:  # float64: the prototype against nj.simulate
        ns = args.x64_steps
        stim = jnp.asarray(stimulus(ns), jnp.float64)
        lib = jax.jit(lambda c: nj.simulate(c, stim[:, None], dt=DT, solver=be,
                                            saveat=nj.SaveAt(fn=lambda y: y)).states)  # fmt: skip
        ys = lib(cell)
        soma_node = cell.node(0, 0.5)
        tr, v, gates = jax.jit(lambda: block_simulate(cell, plan, stim, DT, jnp.float64))()
        v_lib = np.asarray(ys.v[-1])
        dv_trace = float(np.max(np.abs(np.asarray(ys.v[:, soma_node]) - np.asarray(tr))))
        dv_final = float(np.max(np.abs(v_lib[plan.perm] - np.asarray(v))))
        g_lib = np.asarray(ys.gates[0].m[-1])[plan.gate_perm]
        dg = float(np.max(np.abs(g_lib - np.asarray(gates.m))))
        out.update(x64_steps=ns, max_dv_soma_trace_mV=dv_trace, max_dv_final_all_nodes_mV=dv_final,
                   max_dm_final=dg, spikes_lib=spikes(np.asarray(ys.v[:, soma_node])),
                   spikes_blocks=spikes(np.asarray(tr)))  # fmt: skip
        print(json.dumps(out, indent=1))
        return out

    stim = jnp.asarray(stimulus(n_steps), jnp.float32)
    variants = {}
    f_lib = jax.jit(lambda c: nj.simulate(c, stim[:, None], dt=DT, solver=be, saveat=rec).states)
    variants["library"] = (f_lib, cell)
    cell_n = build(args.branches, gates_at_nodes=True)
    variants["library nodes"] = (f_lib, cell_n)
    cell_b = build(args.branches, chain_blocks=True)
    assert cell_b.geometry.blocks is not None
    rec_b = nj.SaveAt(fn=cell_b.record_v([(0, 0.5)]))
    f_b = jax.jit(lambda c: nj.simulate(c, stim[:, None], dt=DT, solver=be, saveat=rec_b).states)
    variants["library blocks"] = (f_b, cell_b)
    f32 = jnp.float32
    variants["blocks"] = (jax.jit(lambda: block_simulate(cell, plan, stim, DT, f32)[0]), None)
    variants["blocks barrier"] = (
        jax.jit(lambda: block_simulate(cell, plan, stim, DT, f32, barrier=True)[0]),
        None,
    )
    variants["library, no materialise"] = (
        jax.jit(lambda c: nj.simulate(c, stim[:, None], dt=DT, solver=be, saveat=rec).states),
        cell,
    )
    variants["library blocks, no materialise"] = (
        jax.jit(lambda c: nj.simulate(c, stim[:, None], dt=DT, solver=be, saveat=rec_b).states),
        cell_b,
    )
    if args.only:
        keep = {"library", *args.only.split(";")}
        variants = {k: v for k, v in variants.items() if k in keep}
    from neurojax.cable import _cell

    materialise = _cell._materialise
    runs, traces = {}, {}
    for name, (f, arg) in variants.items():
        call = (lambda f=f, arg=arg: f(arg)) if arg is not None else f
        if name.endswith("no materialise"):  # F and M not forced into memory (`_materialise`)
            _cell._materialise = lambda x, probe: x
        try:
            traces[name] = np.asarray(call()).ravel()
        finally:
            _cell._materialise = materialise
        runs[name] = lambda call=call: jax.block_until_ready(call())
    server = None
    if args.jaxley_python:
        server = subprocess.Popen(
            [args.jaxley_python, str(HERE / "bench_cable.py"), "--tool", "jaxley-serve",
             "--branches", str(args.branches)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        while True:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the Jaxley server exited before it was ready")
            if line.startswith("{"):
                out["jaxley_spikes"] = json.loads(line)["soma_spikes"]
                break
    times = {k: [] for k in [*runs, *(["Jaxley"] if server else [])]}
    for _ in range(args.rounds):
        for name, run in runs.items():
            t0 = time.process_time()
            run()
            times[name].append(time.process_time() - t0)
        if server:
            server.stdin.write("run\n")
            server.stdin.flush()
            times["Jaxley"].append(json.loads(server.stdout.readline())["cpu_s"])
    if server:
        server.stdin.close()
        server.wait()
    base = times["library"]
    rows = {}
    for name, ts in times.items():
        ratio = [b / t for b, t in zip(base, ts, strict=True)]
        med = statistics.median(ts)
        row = dict(
            cpu_s=ts,
            median_cpu_s=med,
            us_per_step=1e6 * med / n_steps,
            library_over_it=ratio,
            median_library_over_it=statistics.median(ratio),
        )
        if name in traces:
            row["soma_spikes"] = spikes(traces[name])
            dv = np.abs(traces[name] - traces["library"])
            row["max_dv_soma_vs_library_mV"] = float(np.max(dv))
        if server:
            row["jaxley_over_it"] = [j / t for j, t in zip(times["Jaxley"], ts, strict=True)]
            row["median_jaxley_over_it"] = statistics.median(row["jaxley_over_it"])
        rows[name] = row
        print(f"{name:16s} {row['us_per_step']:7.1f} us/step  library/it "
              f"{row['median_library_over_it']:.3f} ({min(ratio):.3f}-{max(ratio):.3f})"
              + (f"  jaxley/it {row['median_jaxley_over_it']:.2f} "
                 f"({min(row['jaxley_over_it']):.2f}-{max(row['jaxley_over_it']):.2f})"
                 if server else ""), flush=True)  # fmt: skip
    out["rows"] = rows
    out["load_average"] = os.getloadavg()
    print("load", out["load_average"])
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
