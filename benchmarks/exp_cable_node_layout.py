"""Experiment (session 12, D2): the 10⁴-compartment HH tree's backward-Euler step with its
node maps as they are, every map a gather (`cable._node_maps.SLICES = False`), and — a
prototype, not in the library — the HH group's gates kept at node layout: the group's
region patched to every node, membrane-less branch ends included (their current is
multiplied by area 0), so that its take and put are the identity (`_node_maps`: the
array itself) instead of gathers of 10 of every 11 nodes. The state's gate leaves are
then `(n_nodes,)`, not `(n_compartments,)`: a change of `CellState`'s layout, which is
why it is only measured here. One process, the variants interleaved round by round, CPU
time (`time.process_time`), float32, the benchmark tree of `bench_cable.py`, 100 ms at
dt 0.025, V recorded at the soma; the soma traces compared with `current`'s.

`--unbranched N`: one branch of N compartments instead (its HH take a slice, its put a
gather, or a pad in the variant `pads`, `_node_maps.PADS`).

    python benchmarks/exp_cable_node_layout.py [--branches 1000 | --unbranched 10000]
        [--rounds 5] [--out ...json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cable import DT, NSEG, T_STOP, stimulus, tree_spec  # noqa: E402


def node_layout(cell):
    """`cell` with its one mechanism's region widened to every node (prototype)."""
    from neurojax._gather import StaticMap

    geo = cell.geometry
    n = cell.n_nodes
    assert len(geo.groups) == 1 and len(geo.regions) == 1
    alln = np.arange(n, dtype=np.int64)
    take, put = StaticMap.take(alln, n), StaticMap.spread(alln, n)
    geo.regions, geo.take, geo.put, geo.spread = (alln,), (take,), (put,), [alln.astype(np.int32)]
    grp = geo.groups[0]
    grp.nodes, grp.take, grp.put, grp.spread = alln, take, put, geo.spread[0]
    grp.sizes, grp.offsets = (n,), np.array([0, n])
    return cell


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--unbranched", type=int, default=0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _node_maps

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]

    def build():
        if args.unbranched:  # 20 µm compartments, 1 µm thick
            morph = Morphology([Branch(20.0 * args.unbranched, 1.0, nseg=args.unbranched)])
        else:
            morph = Morphology([Branch(L, d, parent=q, nseg=NSEG)
                                for L, d, q in tree_spec(args.branches)])  # fmt: skip
        return Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])

    cells = {"current": build(), "all gathers": build()}
    if args.unbranched:
        cells["pads"] = build()
    cells["node layout (prototype)"] = node_layout(build())
    kinds = {}
    for name, cell in cells.items():
        g = cell.geometry.groups[0]
        kinds[name] = [_node_maps.kind(g.take)[0], _node_maps.kind(g.put)[0]]
    runs, traces = {}, {}
    for name, cell in cells.items():
        _node_maps.SLICES = name != "all gathers"
        _node_maps.PADS = name == "pads"
        jax.clear_caches()  # simulate caches its trace by the cell's structure
        rec = nj.SaveAt(fn=cell.record_v([(0, 0.5)]))
        f = jax.jit(lambda c, rec=rec: nj.simulate(c, stim, dt=DT,
                    solver=nj.solvers.BackwardEuler(), saveat=rec, throw=False).states)  # fmt: skip
        f = f.lower(cell).compile()  # ahead of time: not recompiled under another flag
        traces[name] = np.asarray(jax.block_until_ready(f(cell)))
        runs[name] = lambda f=f, cell=cell: jax.block_until_ready(f(cell))
    _node_maps.SLICES, _node_maps.PADS = True, False
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
        dv = float(np.max(np.abs(traces[name] - traces["current"])))
        rows.append(dict(variant=name, us_per_step=us, cpu_s=ts, current_over_this=ratio,
                         max_abs_soma_dv_mV=dv, take_put_kinds=kinds[name]))  # fmt: skip
        print(
            f"{name:24s} {us:7.1f} µs/step (CPU, median of {args.rounds}); current ÷ this, "
            f"per round: {ratio:.3f}; max |ΔV soma| {dv:.3g} mV; take/put {kinds[name]}"
        )
    load = os.getloadavg()
    print("load average:", load)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(
            branches=args.branches, unbranched=args.unbranched,
            n_nodes=cells["current"].n_nodes, rounds=args.rounds,
            load_average_at_end=load, jax=jax.__version__, rows=rows), indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
