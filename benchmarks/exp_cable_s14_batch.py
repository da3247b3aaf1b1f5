"""(Needs `Cell(..., node_order="chain_blocks")`, which session 15 removed: the time loop
runs in chain-block order by default with nothing renumbered, `cable._cell.LOOP_ORDER`;
rerun this script at commit e72408e. Session 15's comparison: `bench_cable.py --tool paired
--tree-loop`, `exp_cable_s15_loop_order.py`.)

Experiment (session 14, B): a batch of cells in chain-block order (`Cell(...,
node_order="chain_blocks")`) against the shipped numbering — `jax.vmap` over per-cell g_Na of the
`bench_cable.py` HH tree, backward Euler, float32, 100 ms; the two compiled ahead and
interleaved round by round, CPU time. In a batch the block order's tree solve permutes to
the root-outwards numbering and runs `"hines"` (as `"branches"` does for a batch), so this
measures what the layout costs or gains there.

    python benchmarks/exp_cable_s14_batch.py [--branches 200] [--batch 10] [--rounds 5]
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

from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=200)
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(args.branches)])
    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    g = jnp.linspace(100.0, 140.0, args.batch, dtype=jnp.float32)
    be = nj.solvers.BackwardEuler()

    def make(blocks):
        def one(gna):
            order = "chain_blocks" if blocks else "tree"
            c = Cell(morph, [(HH(g_na=gna), None)], ra=35.4, clamps=[(0, 0.5)], node_order=order)
            rec = nj.SaveAt(fn=c.record_v([(0, 0.5)]))
            return nj.simulate(c, stim, dt=DT, solver=be, saveat=rec).states[:, 0]

        f = jax.jit(jax.vmap(one))
        return f

    runs = {"shipped": make(False), "chain blocks": make(True)}
    out = {name: np.asarray(f(g)) for name, f in runs.items()}
    dv = float(np.max(np.abs(out["shipped"] - out["chain blocks"])))
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, f in runs.items():
            t0 = time.process_time()
            jax.block_until_ready(f(g))
            times[name].append(time.process_time() - t0)
    ratio = [a / b for a, b in zip(times["shipped"], times["chain blocks"], strict=True)]
    res = dict(
        branches=args.branches,
        batch=args.batch,
        cpu_s=times,
        median_cpu_s={k: statistics.median(v) for k, v in times.items()},
        shipped_over_blocks=ratio,
        median_shipped_over_blocks=statistics.median(ratio),
        max_dv_soma_mV=dv,
        load_average=os.getloadavg(),
    )
    print(json.dumps({k: v for k, v in res.items() if k != "cpu_s"}))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
