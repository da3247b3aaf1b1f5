"""Experiment (session 13, D): where the `"branches"` tree solve's time goes at 11001
nodes (the `bench_cable.py` tree of 1000 branches), the diagonal varying every solve as
in a cable step. 400 chained solves in a scan, µs per solve, float32, CPU time of this
process, the variants interleaved round by round. Variants (timing-only stand-ins, the
wrong answers): `branches` (as shipped); `no reduced` (the reduced tree's Hines loop
replaced by a division by its diagonal); `hines`.

    python benchmarks/exp_cable_s13_solve.py [--branches 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import NSEG, tree_spec  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from neurojax.cable import HH, Branch, Cell, Morphology
    from neurojax.solvers import _tree_solve as ts

    spec = tree_spec(args.branches)
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in spec])
    topo = Cell(morph, [(HH(), None)], ra=35.4).discretisation.topology
    hines0 = ts._solve_hines

    def diag(topo, idx, d, a, b, rhs):
        return rhs / d

    def make(method, patch=None, steps=400):
        rng = np.random.default_rng(0)
        a = jnp.asarray(-rng.uniform(0.1, 1.0, topo.n), jnp.float32)
        d = jnp.asarray(3.0 + rng.uniform(0.0, 1.0, topo.n), jnp.float32)
        jax.clear_caches()  # `tree_solve`'s inner jit caches its trace
        if patch is not None:
            ts._solve_hines = patch

        def run(r):
            def step(x, _):
                dd = d + 1e-3 * jnp.abs(x)  # the diagonal changes every step, as in a cell
                return ts.tree_solve(topo, dd, a, a, x, method=method) + r, None

            return jax.lax.scan(step, r, None, length=steps)[0]

        r = jnp.ones(topo.n, jnp.float32)
        f = jax.jit(run).lower(r).compile()
        ts._solve_hines = hines0
        jax.block_until_ready(f(r))
        return lambda: jax.block_until_ready(f(r))

    runs = {"branches": make("branches"), "no reduced": make("branches", diag),
            "hines": make("hines")}  # fmt: skip
    t = {k: [] for k in runs}
    for _ in range(args.rounds):
        for k, f in runs.items():
            c = time.process_time()
            f()
            t[k].append(time.process_time() - c)
    for k, v in t.items():
        print(f"{k:12s} {statistics.median(v) / 400 * 1e6:7.2f} µs per solve (CPU, median)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
