"""Session 15 (helper A): the cable time loop in chain-block order by default, the state
converted at the loop's edges (`Cell.prepare_loop`, `to_loop_state`/`from_loop_state`,
`cable._blocks.LoopOrder`) — what the conversion costs per saved step.

The benchmark tree of `bench_cable.py` (`--branches`, 10 compartments each, HH, 1 nA into
the soma from 10 to 50 ms, 100 ms at dt = 0.025, backward Euler, float32), each variant
compiled ahead and the variants interleaved round by round in one process, CPU time
(`time.process_time`) per run:

- `tree …`: the loop in the cell's root-outwards numbering (`cable._cell.LOOP_ORDER =
  "tree"`, the default before session 15);
- `blocks …`: the default (chain-block order, the state converted at the edges);

each saving `soma` (`SaveAt(fn=cell.record_v([(0, 0.5)]))`, every step), `state` (the
whole `CellState`, every step: the conversion's worst case, one permutation of v and of
the three HH gates per step) or `state/40` (the whole state every 40th step).

    python benchmarks/exp_cable_s15_loop_order.py --branches 1000 --rounds 5 --name 10k

Writes `results/cable_s15_loop_order_<name>.json`: per variant the CPU seconds per round,
the median, and per round `tree ÷ blocks` for the same saving."""

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--branches", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--name", default="cpu")
    args = p.parse_args(argv)
    load0 = os.getloadavg()

    import jax
    import jax.numpy as jnp
    from bench_cable import DT, NSEG, T_STOP, spikes, stimulus, tree_spec

    import neurojax as nj
    from neurojax.cable import HH, Branch, Cell, Morphology, _cell

    n_steps = int(round(T_STOP / DT))
    stim = jnp.asarray(stimulus(n_steps), jnp.float32)[:, None]
    morph = Morphology([Branch(L, d, parent=p, nseg=NSEG) for L, d, p in tree_spec(args.branches)])
    be = nj.solvers.BackwardEuler()
    runs, soma = {}, {}
    for order in ("tree", "blocks"):
        for save in ("soma", "state", "state/40"):
            cell = Cell(morph, [(HH(), None)], ra=35.4, clamps=[(0, 0.5)])  # its own traces
            at = {
                "soma": nj.SaveAt(fn=cell.record_v([(0, 0.5)])),
                "state": nj.SaveAt(),
                "state/40": nj.SaveAt(every=40),
            }[save]
            fn = jax.jit(lambda c, at=at: nj.simulate(c, stim, dt=DT, solver=be, saveat=at))
            _cell.LOOP_ORDER = "tree" if order == "tree" else "chain_blocks"
            try:
                sol = jax.block_until_ready(fn(cell))  # traced and compiled here
            finally:
                _cell.LOOP_ORDER = "chain_blocks"
            name = f"{order} {save}"
            s = sol.states if save == "soma" else sol.states.v[..., cell.node(0, 0.5)]
            soma[name] = np.asarray(s).ravel()
            runs[name] = lambda fn=fn, cell=cell: jax.block_until_ready(fn(cell))
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            c = time.process_time()
            run()
            times[name].append(time.process_time() - c)
    rows = []
    for name, ts in times.items():
        row = dict(variant=name, cpu_s=ts, median_cpu_s=statistics.median(ts),
                   soma_spikes=spikes(soma[name]))  # fmt: skip
        if name.startswith("blocks"):
            other = times["tree" + name[len("blocks") :]]
            ratio = [a / b for a, b in zip(other, ts, strict=True)]
            row.update(tree_over_blocks=ratio, median_tree_over_blocks=statistics.median(ratio))
            ref = soma["tree" + name[len("blocks") :]]
            row["max_soma_diff_mV"] = float(np.max(np.abs(soma[name] - ref)))
        rows.append(row)
        print(row, flush=True)
    out = dict(
        branches=args.branches,
        compartments=args.branches * NSEG,
        steps=n_steps,
        rounds=args.rounds,
        load_average_at_start=load0,
        load_average_at_end=os.getloadavg(),
        rows=rows,
    )
    path = HERE / "results" / f"cable_s15_loop_order_{args.name}.json"
    path.write_text(json.dumps(out, indent=1))
    print(path)


if __name__ == "__main__":
    main()
