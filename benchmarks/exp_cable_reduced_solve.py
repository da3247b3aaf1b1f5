"""Experiment (issue 21, item 1): the voltage solve of the `bench_cable.py` tree alone and
that of its reduced tree (the chains' ends, `TreeTopology.chain_layout.reduced_topology`,
which `method="branches"` solves by `hines`), per schedule: 400 chained solves in a scan,
µs per solve, float32, CPU time of this process, variants interleaved.

    python benchmarks/exp_cable_reduced_solve.py [--branches 1000] [--rounds 5]
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
    from neurojax.solvers._tree_solve import tree_solve

    spec = tree_spec(args.branches)
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in spec])
    topo = Cell(morph, [(HH(), None)], ra=35.4).discretisation.topology
    red = topo.chain_layout.reduced_topology
    print("tree", topo, "reduced", red)

    def make(t, method, steps=400):
        rng = np.random.default_rng(0)
        a = jnp.asarray(-rng.uniform(0.1, 1.0, t.n), jnp.float32)
        d = jnp.asarray(3.0 + rng.uniform(0.0, 1.0, t.n), jnp.float32)

        def run(r):
            def step(x, _):
                return tree_solve(t, d, a, a, x, method=method) + r, None

            return jax.lax.scan(step, r, None, length=steps)[0]

        f = jax.jit(run)
        r = jnp.ones(t.n, jnp.float32)
        jax.block_until_ready(f(r))
        return lambda: jax.block_until_ready(f(r))

    runs = {f"{name} {m}": make(t, m) for name, t in (("tree", topo), ("reduced", red))
            for m in ("hines", "levels", "branches")}  # fmt: skip
    ts = {k: [] for k in runs}
    for _ in range(args.rounds):
        for k, f in runs.items():
            c = time.process_time()
            f()
            ts[k].append(time.process_time() - c)
    for k, t in ts.items():
        print(f"{k:18s} {statistics.median(t) / 400 * 1e6:7.2f} µs per solve (CPU, median)")
    print("load average:", os.getloadavg())


if __name__ == "__main__":
    main()
