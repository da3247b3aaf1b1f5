"""(Written against commit e72408e, whose `Cell(..., node_order=...)` session 15 then
removed (the time loop runs in chain-block order internally, `cable._cell.LOOP_ORDER`):
rerun it in a worktree of e72408e, `git worktree add /tmp/e7 e72408e`.)

Experiment (session 15, task B item 2): the tree solve's transpose against its forward,
on the benchmark tree of `bench_cable.py` in both node orders (`"tree"`: `"branches"`;
`"chain_blocks"`: `_solve_blocks`).

A chain of `--steps` solves `x ← M⁻¹ x` (M a cable-like matrix on the cell's topology:
diagonal 2.5, couplings −1) in one `lax.scan`, timed forward, and its gradient w.r.t. the
first right side (of `sum(x_final²)`; reverse mode: the forward chain, then one
transposed solve per step, `lax.custom_linear_solve`'s `transpose_solve`; no matrix
cotangents). Transpose per solve
= (gradient − forward) / steps. One process, variants interleaved, CPU time, medians.

    python benchmarks/exp_cable_s15_solve_t.py [--branches 200 1000] [--rounds 5]
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    from bench_cable import NSEG, tree_spec

    from neurojax.cable import HH, Branch, Cell, Morphology
    from neurojax.solvers._tree_solve import tree_solve

    runs, meta = {}, {}
    for nb in args.branches:
        morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(nb)])
        for order in ("tree", "chain_blocks"):
            cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)], node_order=order)
            topo = cell.discretisation.topology
            n = topo.n
            d = jnp.full((n,), 2.5, jnp.float32)
            off = jnp.full((n,), -1.0, jnp.float32)
            x0 = jnp.linspace(0.0, 1.0, n, dtype=jnp.float32)

            def chain(x, topo=topo, d=d, off=off):
                def body(x, _):
                    return tree_solve(topo, d, off, off, x), None

                return jax.lax.scan(body, x, None, length=args.steps)[0]

            fwd = jax.jit(chain).lower(x0).compile()
            grad = jax.jit(jax.grad(lambda x, c=chain: jnp.sum(c(x) ** 2))).lower(x0).compile()
            key = f"{n} nodes, {order}"
            runs[key + " forward"] = (fwd, x0)
            runs[key + " gradient"] = (grad, x0)
            meta[key] = n
    times = {k: [] for k in runs}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for k, (f, x) in runs.items():
            c0 = time.process_time()
            jax.block_until_ready(f(x))
            times[k].append((time.process_time() - c0) / args.steps * 1e6)
        load.append(os.getloadavg()[0])
    out = {"steps": args.steps, "rounds": args.rounds, "load": load, "us_per_solve": times}
    for key in meta:
        f = statistics.median(times[key + " forward"])
        g = statistics.median(times[key + " gradient"])
        print(f"{key:28s} forward {f:6.1f} µs/solve, gradient {g:6.1f}, "
              f"transpose {g - f:6.1f} ({(g - f) / f:.2f}× the forward)")  # fmt: skip
    print("load", load)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
