"""Experiment (issue 21, item 1): what the HH cable's node maps (`neurojax._gather.apply`,
gathers on XLA:CPU) cost in its backward-Euler step, by ablation in one process (the
variants interleaved, CPU time, float32, the benchmark tree of `bench_cable.py`, 100 ms at
dt 0.025). Variants:

- `current`: the step as it is (a few electrode sites placed by pads, `_cell._spread_sites`);
- `sites by gather`: the clamp spread by `apply` as before session 12 (a gather of every
  node for one value);
- timing only, wrong voltages: a map replaced by a contiguous slice or pad of the right
  shape — `no axial gathers` (`of_parent`, `over_children`), `no take/put` (the HH
  group's compartments from and to the nodes), `none of them` (those and the clamp).

    python benchmarks/exp_cable_maps.py [--branches 1000] [--rounds 5] [--out ...json]
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
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _cell

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=q, nseg=NSEG) for L, d, q in tree_spec(args.branches)])
    cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])
    geo, grp = cell.geometry, cell.geometry.groups[0]
    rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
    apply0, sites0 = _cell.apply, _cell._spread_sites

    def stand_in(which):
        def apply(m, x):
            x = jnp.asarray(x)
            if m not in which:
                return apply0(m, x)
            if x.shape[-1] >= m.n_out:  # timing only: contiguous, the right shape
                return x[..., : m.n_out] * 1.0001
            return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, m.n_out - x.shape[-1])]) * 1.0001

        return apply

    def sites_by_apply(m, nodes, x):
        return apply0(m, x)

    clamps = geo.sites["clamps"]
    variants = {
        "current": (apply0, sites0),
        "sites by gather": (apply0, sites_by_apply),
        "no axial gathers": (stand_in({geo.of_parent, geo.over_children}), sites0),
        "no take/put": (stand_in({grp.take, grp.put}), sites0),
        "none of them": (
            stand_in({geo.of_parent, geo.over_children, grp.take, grp.put, clamps}),
            sites_by_apply,
        ),
    }
    runs = {}
    for name, (apply, sites) in variants.items():
        _cell.apply, _cell._spread_sites = apply, sites
        jax.clear_caches()  # simulate caches its trace by the cell's structure
        f = jax.jit(lambda c: nj.simulate(c, stim, dt=DT, solver=nj.solvers.BackwardEuler(),
                                          saveat=rec, throw=False).states)  # fmt: skip
        f = f.lower(cell).compile()  # ahead of time: not recompiled under another patch
        jax.block_until_ready(f(cell))
        runs[name] = lambda f=f: jax.block_until_ready(f(cell))
    _cell.apply, _cell._spread_sites = apply0, sites0
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c = time.process_time()
            run()
            times[name].append(time.process_time() - c)
    rows = []
    for name, ts in times.items():
        us = statistics.median(ts) / n_steps * 1e6
        ratio = statistics.median([b / t for b, t in zip(times["current"], ts, strict=True)])
        rows.append(dict(variant=name, us_per_step=us, cpu_s=ts, current_over_this=ratio))
        print(f"{name:18s} {us:7.1f} µs/step (CPU, median of {args.rounds}); "
              f"current ÷ this, per round: {ratio:.3f}")  # fmt: skip
    load = os.getloadavg()
    print("load average:", load)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(
            branches=args.branches, n_nodes=cell.n_nodes, rounds=args.rounds,
            load_average_at_end=load, jax=jax.__version__, rows=rows), indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
