"""Experiment (issue 21, item 1): the branched HH cable's gradient ÷ its forward run, by how
reverse mode stores and replays the time loop.

One process, the variants interleaved round by round, CPU time of this process, the
load average printed: the benchmark tree of `bench_cable.py` (`--branches` × 10
compartments), 100 ms at dt 0.025 ms, float32, backward Euler, the gradient of the mean
soma V w.r.t. every branch's g_Na (as `bench_cable.py`). Variants (`--variants`):

- `step-remat`: `simulate`'s default (`CheckpointAdjoint()`: the state stored per step,
  each step replayed in the backward pass: `jax.checkpoint` around every step);
- `store`: every intermediate of every step stored, nothing replayed
  (`recompute_steps() = False`; memory ~ steps × intermediates);
- `chunk<k>-store`: the loop cut into chunks of k steps, each chunk's initial state
  stored, the chunk replayed once in the backward pass storing its intermediates
  (`CheckpointAdjoint(every=k)` with `recompute_steps() = False`): checkpointing every k
  steps instead of every step;
- `chunk<k>-remat`: chunks of k steps, and within a replayed chunk each step replayed
  again (`CheckpointAdjoint(every=k)`: one more forward run).

    python benchmarks/exp_cable_grad.py [--branches 200] [--rounds 5]
        [--variants step-remat store chunk10-store chunk100-store] [--out results/....json]
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
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--variants", nargs="+",
                   default=["step-remat", "store", "chunk10-store", "chunk100-store"])  # fmt: skip
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology

    class Stored(nj.CheckpointAdjoint):
        """`CheckpointAdjoint(every)` storing every intermediate within a chunk."""

        def recompute_steps(self) -> bool:
            return False

    def adjoint_of(name):
        if name == "step-remat":
            return nj.CheckpointAdjoint()
        if name == "store":
            return Stored()
        k, how = name[len("chunk"):].split("-")  # fmt: skip
        return Stored(every=int(k)) if how == "store" else nj.CheckpointAdjoint(every=int(k))

    nb = args.branches
    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(nb)])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    of_branch = cell.discretisation.branch[cell.regions[0]]
    g_na = jnp.full((nb,), 120.0, jnp.float32)
    solver = nj.solvers.BackwardEuler()

    fwd = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=solver, saveat=rec).states)
    fwd = fwd.lower(cell).compile()
    jax.block_until_ready(fwd(cell))
    runs = {"forward": lambda: jax.block_until_ready(fwd(cell))}
    grads, compile_s = {}, {}
    for name in args.variants:
        adj = adjoint_of(name)

        def loss(g, adj=adj):
            c = Cell(morph, [(HH(g_na=g[of_branch]), None)], ra=35.4, clamps=[(0, 0.5)])
            return nj.simulate(c, stim, dt=DT, solver=solver, saveat=rec,
                               adjoint=adj).states.mean()  # fmt: skip

        t = time.perf_counter()
        g = jax.jit(jax.grad(loss)).lower(g_na).compile()
        grads[name] = np.asarray(g(g_na))
        compile_s[name] = time.perf_counter() - t
        mem = g.memory_analysis()
        print(name, "compiled in", round(compile_s[name], 2), "s; temp bytes",
              getattr(mem, "temp_size_in_bytes", None), flush=True)  # fmt: skip
        runs[name] = lambda g=g: jax.block_until_ready(g(g_na))
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c = time.process_time()
            run()
            times[name].append(time.process_time() - c)
    ref = grads[args.variants[0]]
    rows = []
    for name, ts in times.items():
        row = dict(variant=name, median_cpu_s=statistics.median(ts), cpu_s=ts,
                   us_per_step=statistics.median(ts) / n_steps * 1e6)  # fmt: skip
        if name != "forward":
            row.update(
                over_forward=statistics.median(
                    [t / f for t, f in zip(ts, times["forward"], strict=True)]),
                max_rel_dev_vs_first=float(np.max(np.abs(grads[name] - ref))
                                           / np.max(np.abs(ref))),
                compile_and_first_run_s=compile_s[name],
            )  # fmt: skip
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
               if k != "cpu_s"}, flush=True)  # fmt: skip
    load = os.getloadavg()
    print("load average at end:", load)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(
            branches=nb, n_nodes=cell.n_nodes, rounds=args.rounds, load_average_at_end=load,
            jax=jax.__version__, rows=rows), indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
